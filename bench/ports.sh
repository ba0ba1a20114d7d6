#!/usr/bin/env bash
# bench/ports.sh — how fast the port layer receives: AF_XDP against AF_PACKET, and pipes.
#
# One veth pair, one generator, one run:
#   ns a: pkt-gen -f live on va (XDP live frames, 60-byte frames = 64 on the wire), GENS (2)
#         instances on one core: each BPF_PROG_RUN call of one instance sleeps part of its
#         time (page pool setup/teardown, an RCU grace period) and the other fills the gap
#   ns b: pkt-gen -f rx on netmap:vb        (AF_XDP, native copy mode on veth)
#         pkt-gen -f rx on netmap:vb/packet (AF_PACKET, TPACKET_V3)
# Receive rate = what pkt-gen rx counts, from its per-second lines: the first WARM seconds
# with traffic and the last partial second are left out, the rest averaged; median of RUNS
# runs, generator and receiver restarted per run.
# Pipes: pkt-gen -f tx on netmap:X{0 into pkt-gen -f rx on netmap:X}0 (two processes, shared
# memory, zero copy), PIPE_N packets, the receiver's rate (first to last packet); median of RUNS.
# Core placement, the same for every row:
#   CPU_GEN (0): the generator (live frames, or the pipe's tx)
#   CPU_APP (1): the receiver, and vb's threaded NAPI (where the kernel copies each frame
#                into the AF_XDP UMEM or the AF_PACKET ring)
# vb has GRO on (a veth accepts XDP-transmitted frames only with GRO or an XDP program).
# Rows {"system","metric","value","unit"} go to bench/results/ports.json (bench/lib.sh).
# Knobs: RUNS=3 WARM=2 WIN=5 (seconds), PIPE_N=20000000, GENS=2.
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/bench/lib.sh"
nstest_init
WARM=${WARM:-2}
WIN=${WIN:-5}
PIPE_N=${PIPE_N:-20000000}
GENS=${GENS:-2}
[ -x "$BIN/pkt-gen" ] || die "$BIN/pkt-gen not built (make all)"
for c in ethtool taskset; do
	command -v $c >/dev/null || die "$c missing (make deps)"
done
bench_init ports
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

ns_add a
ns_add b
veth a va b vb
for n in a b; do in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
in_ns b ethtool -K vb gro on >/dev/null || die "ethtool -K vb gro on"
in_ns b sh -c 'echo 1 >/sys/class/net/vb/threaded' || die "threaded NAPI on vb"
VB_MAC=$(in_ns b cat /sys/class/net/vb/address)

# Pins vb's NAPI thread(s) to CPU_APP (an AF_XDP socket re-creates the NAPI instance).
napi_pin() {
	local p
	wait_for 5 pgrep "^napi/vb-" || die "no NAPI thread for vb"
	for p in $(pgrep "^napi/vb-"); do
		taskset -pc "$CPU_APP" "$p" >/dev/null || die "cannot pin napi/vb to CPU $CPU_APP"
	done
	PLACE_NAPI="$(pgrep -l "^napi/vb-" | awk '{print $2}' | xargs) -> CPU $CPU_APP"
}

# Mean of the receiver's per-second rates (Mpps) in the window.
window_mpps() { # log
	sed -n 's/^rx: \([0-9.]*\) Mpps.*/\1/p' "$1" | awk -v w="$WARM" -v n="$WIN" '
		$1 > 0 { v[++k] = $1 }
		END { s = 0; c = 0
			for (i = w + 1; i < k && c < n; i++) { s += v[i]; c++ }
			if (c == 0) print "n/a"; else printf "%.3f\n", s / c }'
}

# One run: receiver on SPEC, generator into va; sets M_RX (Mpps) and M_OFF (Mpps offered).
measure_once() { # spec label
	local spec=$1 label=$2 rpid
	bg "rx-$label" in_ns b taskset -c "$CPU_APP" "$BIN/pkt-gen" -i "$spec" -f rx -T 1000 \
		-t $((WARM + WIN + 10))
	rpid=$BG_PID
	wait_for 10 grep -q opened "$NSTEST_TMP/rx-$label.log" ||
		die "$spec did not open: $(cat "$NSTEST_TMP/rx-$label.log")"
	napi_pin
	local k gpids=()
	for k in $(seq 1 "$GENS"); do
		bg "gen-$label-$k" in_ns a taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i netmap:va -f live \
			-l 60 -D "$VB_MAC" -T 0 -t $((WARM + WIN + 2))
		gpids+=("$BG_PID")
		wait_for 5 grep -q "XDP live frames" "$NSTEST_TMP/gen-$label-$k.log" ||
			die "generator: $(cat "$NSTEST_TMP/gen-$label-$k.log")"
	done
	sleep $((WARM + WIN + 1)) # the timed window (and a second to spare), not synchronization
	stop_gens "$NSTEST_TMP/gen-$label-" "${gpids[@]}"
	stop_bg "$rpid" || die "receiver failed: $(cat "$NSTEST_TMP/rx-$label.log")"
	M_RX=$(window_mpps "$NSTEST_TMP/rx-$label.log")
	M_OFF=$(mpps "$GENS_PPS")
	MODE=$(grep -o 'AF_[A-Z]* [^,]*' "$NSTEST_TMP/rx-$label.log" | head -1)
}

measure_row() { # row spec
	local row=$1 spec=$2 i r=() o=()
	for i in $(seq 1 "$RUNS"); do
		measure_once "$spec" "$row-$i"
		r+=("$M_RX")
		o+=("$M_OFF")
	done
	printf -v "R_$row" '%s' "$(median "${r[@]}")"
	printf -v "RUNS_$row" '%s' "${r[*]}"
	printf -v "OFF_$row" '%s' "$(median "${o[@]}")"
	printf -v "MODE_$row" '%s' "$MODE"
	echo "  $row ($MODE): rx ${r[*]} Mpps (offered ${o[*]})" >&2
}

echo "bench: pkt-gen rx over AF_XDP" >&2
measure_row xdp netmap:vb
echo "bench: pkt-gen rx over AF_PACKET" >&2
measure_row packet netmap:vb/packet
in_ns b ip -d link show vb | grep -q 'prog/xdp' && die "an XDP program stayed attached to vb"

echo "bench: pkt-gen tx -> rx over a pipe" >&2
G="bp$$"
p=()
for i in $(seq 1 "$RUNS"); do
	bg "piperx-$i" taskset -c "$CPU_APP" "$BIN/pkt-gen" -i "netmap:$G}0" -f rx -n "$PIPE_N" \
		-T 0 -W 5 -t 60
	rpid=$BG_PID
	wait_for 10 grep -q opened "$NSTEST_TMP/piperx-$i.log" || die "pipe rx did not open"
	taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i "netmap:$G{0" -f tx -n "$PIPE_N" -T 0 \
		>"$NSTEST_TMP/pipetx-$i.log" 2>&1 || die "pipe tx: $(cat "$NSTEST_TMP/pipetx-$i.log")"
	wait "$rpid" || die "pipe rx failed: $(cat "$NSTEST_TMP/piperx-$i.log")"
	grep -q "^Received $PIPE_N packets" "$NSTEST_TMP/piperx-$i.log" ||
		die "pipe rx lost packets: $(cat "$NSTEST_TMP/piperx-$i.log")"
	p+=("$(mpps "$(pps_of "$NSTEST_TMP/piperx-$i.log")")")
done
R_pipe=$(median "${p[@]}")
echo "  pipe: ${p[*]} Mpps" >&2

rxp=$(ratio "$R_xdp" "$R_packet")
row pkt-gen-af_xdp rx_rate_64B "$R_xdp" Mpps
row pkt-gen-af_packet rx_rate_64B "$R_packet" Mpps
row pkt-gen-pipe tx_to_rx_64B "$R_pipe" Mpps
row af_xdp/af_packet rx_rate_ratio "$rxp" x
row pkt-gen-live offered_64B "$OFF_xdp" Mpps

echo
echo "pkt-gen rx, 64-byte frames from pkt-gen -f live over one veth pair, median of $RUNS runs"
echo "(${WIN}s windows after ${WARM}s warmup, $GENS generator processes); pipes: $PIPE_N packets tx -> rx"
echo "placement: generator CPU $CPU_GEN; receiver CPU $CPU_APP; vb $PLACE_NAPI"
echo "load average (1/5/15 min) before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %9s %9s  %s\n' "receiver" Mpps offered runs
printf '%-40s %9s %9s  %s\n' "AF_XDP (${MODE_xdp})" "$R_xdp" "$OFF_xdp" "$RUNS_xdp"
printf '%-40s %9s %9s  %s\n' "AF_PACKET (${MODE_packet})" "$R_packet" "$OFF_packet" "$RUNS_packet"
printf '%-40s %9s %9s  %s\n' "pipe (tx -> rx, shared memory)" "$R_pipe" - "${p[*]}"
echo "ratio: AF_XDP / AF_PACKET = ${rxp}x"
bench_write
