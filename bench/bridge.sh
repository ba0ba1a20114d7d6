#!/usr/bin/env bash
# bench/bridge.sh — two-port bridging, 64-byte frames: nmbridge against its peers, one run.
#
# One topology, one generator, one sink for every row:
#
#   ns g                 ns b (the system under test)                 ns s
#   bngen ==veth==> bnin  --[ (a) | (b) | (c) | (d) ]-->  bnout ==veth==> bnsnk
#   pkt-gen -f live                                                  XDP_DROP (bin/xdp-peer)
#
# The generator is pkt-gen's XDP live-frames mode (BPF_PROG_RUN, XDP_TX out of bngen),
# 60-byte frames (64 on the wire with FCS), one UDP flow, destination MAC = bnsnk's; GENS (2)
# instances on one core: one instance alone leaves its core idle for part of every
# BPF_PROG_RUN call (page pool setup/teardown, an RCU grace period) and offers ~3 Mpps in
# bursts; two fill each other's gaps (~5 Mpps). The offered column is their sum.
# Delivered pps = bnsnk's rx_packets (every frame its XDP_DROP program saw) over a WIN-second
# window after a WARM-second warmup; median of RUNS runs, the generator restarted per run.
# Rows, one after the other on the same veths:
#   (a) linux-bridge   bnin and bnout in a Linux bridge (br_netfilter calls off, static fdb)
#   (b) xdp-redirect   an XDP program on bnin redirects to bnout through a devmap (the
#                      in-kernel ceiling for any AF_XDP program on these veths)
#   (c) nmbridge       bin/nmbridge -i netmap:bnin -i netmap:bnout (AF_XDP, shared UMEM, poll())
#   (c') nmbridge -r 4096   the same with 4096-slot rings (more receive buffers for bursts)
#   (d) dpdk-testpmd   testpmd io-fwd over two net_af_xdp ports (if dpdk-testpmd exists;
#                      `make bench-deps` installs it, Debian's dpdk-dev)
# Core placement, the same for every row (printed with the table):
#   CPU_GEN (0): the generator and the sink (threaded NAPI of bnsnk pinned there, SCHED_FIFO:
#                the sink always drains first, the generator gets what is left)
#   CPU_APP (1): the system under test: threaded NAPI of bnin (where the Linux bridge and the
#                XDP redirect run, and where AF_XDP copies frames in), nmbridge's thread,
#                testpmd's forwarding lcore
# bnin has GRO on for every row (so the veth keeps one NAPI instance, and XDP-transmitted
# frames are accepted without an XDP program in row (a)).
# Rows {"system","metric","value","unit"} go to bench/results/bridge.json (bench/lib.sh).
# Knobs: RUNS=3 WARM=2 WIN=5 (seconds), NMBRIDGE_ARGS (extra nmbridge options),
#        ROWS="bridge devmap nmbridge nmbridge4k dpdk" (a subset leaves the others n/a), GENS=2,
#        APP_NICE=0 (nice value of nmbridge and testpmd, which share CPU_APP with bnin's NAPI),
#        PERF_DIR=DIR: after the measured runs, one more run per row under
#        `perf record -a -g` (not counted), DIR/ROW.data and DIR/ROW.txt (perf report).
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/bench/lib.sh"
nstest_init
WARM=${WARM:-2}
WIN=${WIN:-5}
NMBRIDGE_ARGS=${NMBRIDGE_ARGS:-}
ROWS=${ROWS:-bridge devmap nmbridge nmbridge4k dpdk}
GENS=${GENS:-2}
APP_NICE=${APP_NICE:-0}
PERF_DIR=${PERF_DIR:-}
for b in pkt-gen nmbridge xdp-peer; do
	[ -x "$BIN/$b" ] || die "$BIN/$b not built (make all)"
done
for c in ethtool taskset bc; do
	command -v $c >/dev/null || die "$c missing (make deps)"
done
TESTPMD=$(command -v dpdk-testpmd || true)
[ -n "$PERF_DIR" ] && { command -v perf >/dev/null || die "perf missing (PERF_DIR set)"; }
bench_init bridge
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

ns_add g
ns_add b
ns_add s
veth g bngen b bnin
veth b bnout s bnsnk
for n in g b s; do in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
in_ns b ethtool -K bnin gro on >/dev/null || die "ethtool -K bnin gro on"
SINK_MAC=$(in_ns s cat /sys/class/net/bnsnk/address)

# Turns on threaded NAPI for IF in namespace NS and pins its thread(s) to CPU.
napi_pin() { # ns if cpu [fifo]
	local ns=$1 ifc=$2 cpu=$3 fifo=${4:-} p n=0
	in_ns "$ns" sh -c "echo 1 >/sys/class/net/$ifc/threaded" || die "threaded NAPI on $ifc"
	wait_for 5 pgrep "^napi/$ifc-" || die "no NAPI thread for $ifc"
	for p in $(pgrep "^napi/$ifc-"); do
		taskset -pc "$cpu" "$p" >/dev/null || die "cannot pin napi/$ifc to CPU $cpu"
		[ -n "$fifo" ] && { chrt -f -p 50 "$p" || die "chrt napi/$ifc"; }
		n=$((n + 1))
	done
	echo "$(pgrep -l "^napi/$ifc-" | awk '{print $2}' | xargs) -> CPU $cpu${fifo:+ (SCHED_FIFO)}"
}

# The sink: XDP_DROP on bnsnk, its NAPI on CPU_GEN (children never hold the bench lock).
bg sink in_ns s taskset -c "$CPU_GEN" "$BIN/xdp-peer" drop bnsnk
wait_for 5 grep -q attached "$NSTEST_TMP/sink.log" || die "sink: $(cat "$NSTEST_TMP/sink.log")"
PLACE_SINK=$(napi_pin s bnsnk "$CPU_GEN" fifo)
# Without this, every frame a sender hands to bnsnk (veth_xmit of an skb) finds the sink's
# NAPI idle and wakes it on the other core: one inter-processor interrupt per packet, which
# in this VM costs the sender microseconds. Deferred re-arming (the NAPI stays "scheduled"
# and a SINK_POLL_NS timer polls it) makes the sink a batch consumer for every row alike.
SINK_POLL_NS=${SINK_POLL_NS:-20000}
if [ "$SINK_POLL_NS" -gt 0 ]; then
	in_ns s sh -c "echo 100 >/sys/class/net/bnsnk/napi_defer_hard_irqs &&
		echo $SINK_POLL_NS >/sys/class/net/bnsnk/gro_flush_timeout" || die "sink NAPI deferral"
	PLACE_SINK="$PLACE_SINK, polled every $((SINK_POLL_NS / 1000)) us"
fi

sink_count() { in_ns s cat /sys/class/net/bnsnk/statistics/rx_packets; }
# Where frames were lost (cumulative): bnin rx (ring full at the generator's xmit), bnout tx,
# bnsnk rx.
drops() {
	echo "bnin rx $(in_ns b cat /sys/class/net/bnin/statistics/rx_dropped)," \
		"bnout tx $(in_ns b cat /sys/class/net/bnout/statistics/tx_dropped)," \
		"bnsnk rx $(in_ns s cat /sys/class/net/bnsnk/statistics/rx_dropped)"
}

# One measured run: sets M_DELIV and M_OFFER (pps).
measure_once() { # label
	local label=$1 k gpids=() c0 c1 t0 t1
	for k in $(seq 1 "$GENS"); do
		bg "gen-$label-$k" in_ns g taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i netmap:bngen \
			-f live -l 60 -D "$SINK_MAC" -T 0 -t $((WARM + WIN + 5))
		gpids+=("$BG_PID")
		wait_for 5 grep -q "XDP live frames" "$NSTEST_TMP/gen-$label-$k.log" ||
			die "generator: $(cat "$NSTEST_TMP/gen-$label-$k.log")"
	done
	sleep "$WARM" # warmup (a timed window, not synchronization)
	c0=$(sink_count)
	t0=$(date +%s.%N)
	sleep "$WIN" # the measurement window
	c1=$(sink_count)
	t1=$(date +%s.%N)
	stop_gens "$NSTEST_TMP/gen-$label-" "${gpids[@]}"
	M_DELIV=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
	M_OFFER=$GENS_PPS
}


# Runs RUNS measurements for a row; sets R_<row> (median Mpps), RUNS_<row>, OFF_<row>.
measure_row() { # row
	local row=$1 i d=() o=()
	for i in $(seq 1 "$RUNS"); do
		measure_once "$row-$i"
		d+=("$(mpps "$M_DELIV")")
		o+=("$(mpps "$M_OFFER")")
	done
	printf -v "R_$row" '%s' "$(median "${d[@]}")"
	printf -v "RUNS_$row" '%s' "${d[*]}"
	printf -v "OFF_$row" '%s' "$(median "${o[@]}")"
	echo "  $row: delivered ${d[*]} Mpps (offered ${o[*]}); drops so far: $(drops)" >&2
	if [ -n "$PERF_DIR" ]; then
		mkdir -p "$PERF_DIR"
		perf record -q -a -g -o "$PERF_DIR/$row.data" -- sleep $((WARM + WIN)) \
			>/dev/null 2>&1 &
		local ppid=$!
		measure_once "$row-perf"
		wait "$ppid"
		perf report -i "$PERF_DIR/$row.data" --no-children --sort sym --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -60 >"$PERF_DIR/$row.txt"
		echo "  $row: perf profile in $PERF_DIR/$row.{data,txt}" >&2
	fi
}

# (a) Linux bridge.
row_bridge() {
	echo "bench: (a) linux-bridge" >&2
	in_ns b sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
	in_ns b sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null
	in_ns b ip link add br0 type bridge || die "ip link add br0 type bridge"
	in_ns b ip link set bnin master br0
	in_ns b ip link set bnout master br0
	in_ns b ip link set br0 up
	in_ns b bridge fdb add "$SINK_MAC" dev bnout master static || die "bridge fdb add"
	napi_pin b bnin "$CPU_APP" >/dev/null
	measure_row bridge
	in_ns b ip link del br0
}

# (b) In-kernel XDP redirect, devmap.
row_devmap() {
	echo "bench: (b) xdp-redirect (devmap)" >&2
	bg redirect in_ns b taskset -c "$CPU_APP" "$BIN/xdp-peer" redirect bnin bnout
	local rpid=$BG_PID
	wait_for 5 grep -q attached "$NSTEST_TMP/redirect.log" ||
		die "redirect: $(cat "$NSTEST_TMP/redirect.log")"
	napi_pin b bnin "$CPU_APP" >/dev/null
	measure_row devmap
	stop_bg "$rpid"
}

# (c) nmbridge, with its defaults (and NMBRIDGE_ARGS); (c') the same with -r 4096.
row_nmbridge4k() { row_nmbridge nmbridge4k -r 4096; }
row_nmbridge() { # [row extra-args...]
	local row=${1:-nmbridge}
	shift
	echo "bench: (c) nmbridge $NMBRIDGE_ARGS $*" >&2
	# shellcheck disable=SC2086
	bg nmbridge in_ns b nice -n "$APP_NICE" "$BIN/nmbridge" -i netmap:bnin -i netmap:bnout -a "$CPU_APP" -v \
		$NMBRIDGE_ARGS "$@"
	local npid=$BG_PID log=$NSTEST_TMP/nmbridge.log
	wait_for 10 grep -q "thread" "$log" || die "nmbridge: $(cat "$log")"
	grep -q "zero copy" "$log" || die "nmbridge is not zero copy: $(cat "$log")"
	NM_MODE=$(grep -o 'AF_XDP [a-z-]* [a-z-]*' "$log" | head -1)
	napi_pin b bnin "$CPU_APP" >/dev/null
	measure_row "$row"
	stop_bg "$npid" || die "nmbridge exited non-zero: $(tail -5 "$log")"
	grep -q "pool audit ok" "$log" || die "nmbridge audit: $(tail -3 "$log")"
	in_ns b ip -d link show bnin | grep -q 'prog/xdp' && die "nmbridge left an XDP program on bnin"
	[ -n "${KEEP_LOGS:-}" ] && cp "$log" "$KEEP_LOGS/"
	return 0
}

# (d) DPDK testpmd io-fwd over net_af_xdp (main lcore on CPU_GEN sleeps, forwarding on CPU_APP).
row_dpdk() {
	if [ -z "$TESTPMD" ]; then
		echo "bench: (d) skipped: dpdk-testpmd not installed (make bench-deps)" >&2
		return 0
	fi
	echo "bench: (d) dpdk-testpmd io-fwd, net_af_xdp" >&2
	bg testpmd in_ns b nice -n "$APP_NICE" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
		"$TESTPMD" -l "$CPU_GEN,$CPU_APP" --main-lcore "$CPU_GEN" --no-huge --no-pci -m 1024 \
		--no-shconf --log-level=pmd.net.af_xdp:info \
		--vdev net_af_xdp0,iface=bnin --vdev net_af_xdp1,iface=bnout -- \
		--forward-mode=io --nb-cores=1 --total-num-mbufs=32768 --stats-period 1 \
		</dev/null
	local tpid=$BG_PID
	wait_for 30 grep -q "Port statistics" "$NSTEST_TMP/testpmd.log" ||
		die "testpmd did not start forwarding: $(tail -20 "$NSTEST_TMP/testpmd.log")"
	napi_pin b bnin "$CPU_APP" >/dev/null
	measure_row dpdk
	stop_bg "$tpid"
	if in_ns b ip -d link show bnin | grep -q 'prog/xdp'; then in_ns b ip link set bnin xdp off; fi
	return 0
}

PLACE_IN=$(napi_pin b bnin "$CPU_APP")
for r in bridge devmap nmbridge nmbridge4k dpdk; do
	printf -v "R_$r" n/a
	printf -v "RUNS_$r" -
	printf -v "OFF_$r" -
done
for r in $ROWS; do
	case $r in
	bridge | devmap | nmbridge | nmbridge4k | dpdk) "row_$r" ;;
	*) die "ROWS: unknown row $r (bridge devmap nmbridge nmbridge4k dpdk)" ;;
	esac
done

# Table, ratios, rows.
nm=$R_nmbridge
ra=$(ratio "$nm" "$R_bridge")
rb=$(ratio "$nm" "$R_devmap")
rd=$(ratio "$nm" "$R_dpdk")
row linux-bridge delivered_64B "$R_bridge" Mpps
row xdp-redirect-devmap delivered_64B "$R_devmap" Mpps
row nmbridge delivered_64B "$R_nmbridge" Mpps
row dpdk-testpmd-af_xdp delivered_64B "$R_dpdk" Mpps
row nmbridge/linux-bridge delivered_ratio "$ra" x
row nmbridge/xdp-redirect-devmap delivered_ratio "$rb" x
row nmbridge/dpdk-testpmd-af_xdp delivered_ratio "$rd" x
n4=$R_nmbridge4k
row nmbridge-r4096 delivered_64B "$n4" Mpps
row nmbridge-r4096/linux-bridge delivered_ratio "$(ratio "$n4" "$R_bridge")" x
row nmbridge-r4096/xdp-redirect-devmap delivered_ratio "$(ratio "$n4" "$R_devmap")" x
row nmbridge-r4096/dpdk-testpmd-af_xdp delivered_ratio "$(ratio "$n4" "$R_dpdk")" x

met() { # ratio target
	awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "MET";
		else print "MISSED" }'
}
echo
echo "bridging bngen -> bnin => bnout -> bnsnk, 64-byte frames, one flow, delivered at the sink,"
echo "median of $RUNS runs (${WIN}s windows after ${WARM}s warmup), $GENS generator processes; nmbridge: ${NM_MODE:-?}"
echo "placement: generator CPU $CPU_GEN; sink $PLACE_SINK; bnin $PLACE_IN;" \
	"nmbridge / testpmd forwarding on CPU $CPU_APP (nice $APP_NICE)"
echo "load average (1/5/15 min) before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)" \
	"(other work on this VM skews every row; the bench lock does not stop tests)"
printf '%-4s %-28s %9s %9s  %-24s %s\n' row system Mpps offered runs "nmbridge/row"
printf '%-4s %-28s %9s %9s  %-24s %s\n' "(a)" "linux-bridge" "$R_bridge" "$OFF_bridge" "$RUNS_bridge" "${ra}x (target >= 1.5: $(met "$ra" 1.5))"
printf '%-4s %-28s %9s %9s  %-24s %s\n' "(b)" "xdp-redirect (devmap)" "$R_devmap" "$OFF_devmap" "$RUNS_devmap" "${rb}x (target >= 0.8: $(met "$rb" 0.8))"
printf '%-4s %-28s %9s %9s  %-24s %s\n' "(c)" "nmbridge" "$R_nmbridge" "$OFF_nmbridge" "$RUNS_nmbridge" "1.00x"
printf '%-4s %-28s %9s %9s  %-24s %s\n' "(c')" "nmbridge -r 4096" "$n4" "$OFF_nmbridge4k" "$RUNS_nmbridge4k" "$(ratio "$nm" "$n4")x; itself / (a) (b) (d): $(ratio "$n4" "$R_bridge")x $(ratio "$n4" "$R_devmap")x $(ratio "$n4" "$R_dpdk")x"
printf '%-4s %-28s %9s %9s  %-24s %s\n' "(d)" "dpdk-testpmd io (af_xdp)" "$R_dpdk" "$OFF_dpdk" "$RUNS_dpdk" "${rd}x (target >= 1.5: $(met "$rd" 1.5))"
bench_write
