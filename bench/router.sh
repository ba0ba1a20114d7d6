#!/usr/bin/env bash
# bench/router.sh — IPv4 routing over the full BGP table, 64-byte frames: nmrouter against
# Linux forwarding (same routes in the kernel), and nmrouter's engine alone over pipes.
#
# One topology for both veth rows (namespaces nmbr-PID-{g,r,s}; the interfaces are really
# named nIDa0, nIDp0, ... with ID = PID % 100000, so that their NAPI threads are ours alone):
#
#   ns g                    ns r (the router under test)              ns s
#   a0 ==veth==> p0  --[ Linux ip_forward | nmrouter ]-->  p1 ==veth==> b0  XDP_DROP
#                                                          p2 ==veth==> c0  XDP_DROP
#
# The table: 512,621 IPv4 prefixes (Debian python3-pyasn, ipasn_20140513.dat.gz), each sent
# to 10.81.2.2 (p1) or 10.81.3.2 (p2) by crc32(prefix) & 1, exactly as
# tests/router/test_fulltable.py does; static neighbors for both next hops (no ARP). The
# destinations: NDST (262,144) addresses, each inside a random prefix of the table (random
# host bits), martians and 10/8 left out, seed 20140513; one file for every row (pkt-gen -F
# cycles through it in order, so consecutive frames go to unrelated prefixes).
#
# Rows (delivered = b0 + c0 rx_packets, i.e. every frame the sinks' XDP_DROP saw, over a
# WIN-second window after WARM seconds; median of RUNS runs, generator restarted per run):
#   (a) linux     ip_forward=1 in ns r, 10.81.{1,2,3}.1/24 on p0/p1/p2, the 512,621 routes
#                 (ip -batch), permanent neighbors, rp_filter=0 (nmrouter checks no source
#                 path either)
#   (b) nmrouter  bin/nmrouter, ports netmap:p0/p1/p2 (AF_XDP, native copy mode on veth),
#                 one worker, the same routes and neighbors from its JSON config
#   (b') nmrouter, live  the same router fed by pkt-gen -f live (XDP live frames): what it
#                 does when offered more than an skb sender can produce; informational, no
#                 ratio (Linux cannot be fed this way, see below). The row checks nmrouter's
#                 bad_csum counter and reports n/a if the generator's frames are not valid
#                 (the generator had such a bug until 288e5d2).
#   (c) pipes     the engine alone: pkt-gen -f tx on netmap:X{0 -> nmrouter (ports on the
#                 pipe slaves X}0, Y}0, Z}0) -> pkt-gen -f rx on Y{0 and Z{0; Mpps = growth of
#                 nmrouter's own "forwarded" counter (SIGUSR1 stats) over the window, one
#                 worker on one core (Mpps per core).
#   (s) sender    the skb sender into p0 with no router (p0 has no address, ip_forward off:
#                 the kernel drops each frame after ip_rcv on CPU_APP), counted at p0: the
#                 sender plus p0's kernel receive, an upper bound for (a) and (b) on this path.
# The ratio nmrouter/linux is (b)/(a), target >= 1.5.
#
# Why an skb-based sender for (a) and (b): the XDP live-frames generator transmits with
# XDP_TX, so its frames reach p0 as XDP frames, and Linux IPv4 forwarding drops frames that
# entered a veth that way (OTHERHOST at ip_rcv_core; ../shared/LAB-NOTES.md, "Traps").
# So (a) is fed by pkt-gen -f tx on netmap:a0/packet (AF_PACKET TX ring, PACKET_QDISC_BYPASS:
# each frame becomes an skb and goes through veth_xmit, like any kernel sender), and (b) is
# fed by exactly the same sender, so that the ratio compares the two routers on the same
# offered load. Reading "offered": on this kernel a veth pushes back on a sender when the
# peer's ring is full (the sender's queue stops; no drop), so an skb sender is slowed to what
# the router takes, and offered ~= delivered does NOT mean generator-bound. Row (s) gives
# the ceiling of the sender and p0's receive: a router row well below (s), with its
# NAPI % high, is router-bound. Frames AF_XDP
# cannot take (its RX ring full) are dropped at p0 instead ("p0 drops" column).
#
# Core placement, the same for every row (printed with the table):
#   CPU_GEN (0): the generator(s); the sinks' threaded NAPI (b0, c0; SCHED_FIFO, polled
#                every SINK_POLL_NS like bench/bridge.sh); the pipe row's tx and rx pkt-gens
#   CPU_APP (1): the router: p0's threaded NAPI (where Linux forwards: ip_rcv, fib lookup,
#                ip_forward, veth_xmit to b0/c0; and where AF_XDP copies frames into the
#                UMEM), nmrouter's process (its worker thread; AF_XDP TX copy-out runs in its
#                sendto() calls)
# p0 has GRO on for every row (a veth gets a NAPI instance only with GRO or an XDP program,
# and only then can its receive work be pinned; with GRO off, veth_xmit would deliver
# through the backlog of the sender's core), and a0 has TSO off (else veth_xmit still skips
# p0's NAPI for skbs not "eligible for GRO", and Linux would forward on CPU_GEN). p0's NAPI
# re-arms deferred (napi_defer_hard_irqs 100, gro_flush_timeout IN_POLL_NS = 20 us) like the
# sinks': without it every frame that finds p0's NAPI idle wakes it on the other core, and
# in one A/B pair of single runs row (s) went from 0.40 to 0.61 Mpps and Linux from 0.21 to
# 0.29 with it (a later full run gave (s) 0.40 again: this VM is noisy; medians only).
# The "NAPI %" column is the CPU time of p0's NAPI thread over the window: ~0 would mean the
# receive work ran somewhere else than CPU_APP (the placement check).
# Rows {"system","metric","value","unit"} go to bench/results/router.json (bench/lib.sh).
# Knobs: RUNS=3 WARM=2 WIN=5 (seconds), NDST=262144, GENS=1 (skb senders), LIVE_GENS=2,
#        ROWS="sender linux nmrouter live pipes", IN_POLL_NS=20000 (0: off),
#        NMROUTER=bin/nmrouter (another build to measure; it and pkt-gen / xdp-peer are
#        copied aside at the start), PERF=1: after the measured runs of (b) and of (a), one
#        more run each under `perf record -g -C CPU_APP` (not counted), CPU_APP's time by
#        command and the router's top symbols printed; PERF_DIR=DIR keeps the data.
#
# Needs: root, make all, python3-pyasn (the table), ethtool, perf (PERF=1 only).
set -euo pipefail
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/bench/lib.sh"
nstest_init
NS="nmbr-$$" # our namespaces: nmbr-PID-{g,r,s}
G="nmbr$$"   # our pipe group prefix
# tests/lib.sh's cleanup stops at the first failing command under `set -e`: run it without.
trap 'set +e; nstest_cleanup; rm -f /dev/shm/nmbox-pipe-"$G"*' EXIT
# Interface names unique to this run, so that pinning the threaded NAPI of "p0" (found by
# its thread's name, napi/IF-ID, 15 characters at most) never touches another test's p0.
ID=$(($$ % 100000))
A0=n${ID}a0 P0=n${ID}p0 P1=n${ID}p1 P2=n${ID}p2 B0=n${ID}b0 C0=n${ID}c0
WARM=${WARM:-2}
WIN=${WIN:-5}
NDST=${NDST:-262144}
GENS=${GENS:-1}
LIVE_GENS=${LIVE_GENS:-2}
ROWS=${ROWS:-sender linux nmrouter live pipes}
NMROUTER=${NMROUTER:-$BIN/nmrouter}
PERF=${PERF:-0}
PERF_DIR=${PERF_DIR:-}
SINK_POLL_NS=${SINK_POLL_NS:-20000}
TABLE=/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz
for b in pkt-gen xdp-peer; do
	[ -x "$BIN/$b" ] || die "$BIN/$b not built (make all)"
done
[ -x "$NMROUTER" ] || die "$NMROUTER not built (make all)"
for c in ethtool taskset bc chrt; do
	command -v $c >/dev/null || die "$c missing (make deps)"
done
[ -r "$TABLE" ] || die "$TABLE missing (apt-get install python3-pyasn)"
[ "$PERF" = 1 ] && { command -v perf >/dev/null || die "perf missing (PERF=1)"; }
bench_init router
# Snapshots of the binaries: other work on this machine may rebuild bin/ while we measure.
for b in pkt-gen xdp-peer; do cp "$BIN/$b" "$NSTEST_TMP/$b"; done
cp "$NMROUTER" "$NSTEST_TMP/nmrouter"
NM_SHA=$(sha256sum "$NMROUTER" | cut -c1-12)
NM_REV=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo ?)
NMROUTER=$NSTEST_TMP/nmrouter BIN=$NSTEST_TMP
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
W=$NSTEST_TMP

MAC_A0=02:00:00:00:0a:01 MAC_P0=02:00:00:00:01:00 MAC_P1=02:00:00:00:01:01
MAC_P2=02:00:00:00:01:02 MAC_B0=02:00:00:00:00:02 MAC_C0=02:00:00:00:0c:01

# ---- the table, the configs, the destinations (deterministic)
echo "bench: preparing the table ($TABLE), $NDST destinations" >&2
$PY - "$TABLE" "$W" "$NDST" "$G" "$P0" "$P1" "$P2" <<'EOF' || die "table preparation failed"
import gzip, json, random, socket, struct, sys, zlib
table, w, ndst, grp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
IF = {"p0": sys.argv[5], "p1": sys.argv[6], "p2": sys.argv[7]}
GW = {"p1": "10.81.2.2", "p2": "10.81.3.2"}
tab = []
with gzip.open(table, "rt") as f:
    for line in f:
        if line.startswith(";") or not line.strip():
            continue
        pfx = line.split("\t", 1)[0]
        tab.append((pfx, "p1" if zlib.crc32(pfx.encode()) & 1 else "p2"))
with open(f"{w}/kernel.batch", "w") as f:
    for pfx, port in tab:
        f.write(f"route replace {pfx} via {GW[port]} dev {IF[port]}\n")
routes = [{"dst": p, "gateway": GW[port]} for p, port in tab]
def cfg(specs, macs):
    ports = []
    for i, (name, spec) in enumerate(specs):
        p = {"name": name, "spec": spec, "addresses": [f"10.81.{i + 1}.1/24"]}
        if macs:
            p["mac"] = macs[i]
        ports.append(p)
    return {"ports": ports, "routes": routes, "workers": 1,
            "neighbors": [{"dst": "10.81.2.2", "lladdr": "02:00:00:00:00:02", "dev": "p1"},
                          {"dst": "10.81.3.2", "lladdr": "02:00:00:00:0c:01", "dev": "p2"}]}
json.dump(cfg([(p, "netmap:" + IF[p]) for p in ("p0", "p1", "p2")], None),
          open(f"{w}/veth.json", "w"))
json.dump(cfg([("p0", f"netmap:{grp}x}}0"), ("p1", f"netmap:{grp}y}}0"),
               ("p2", f"netmap:{grp}z}}0")],
              ["02:00:00:00:01:00", "02:00:00:00:01:01", "02:00:00:00:01:02"]),
          open(f"{w}/pipes.json", "w"))
rnd = random.Random(20140513)
n = 0
with open(f"{w}/dst.txt", "w") as f:
    while n < ndst:
        pfx = tab[rnd.randrange(len(tab))][0]
        a, l = pfx.split("/")
        base = struct.unpack("!I", socket.inet_aton(a))[0]
        addr = base | (rnd.getrandbits(32 - int(l)) if int(l) < 32 else 0)
        if addr >> 24 in (0, 10, 127) or addr >> 28 >= 0xe:
            continue
        f.write(socket.inet_ntoa(struct.pack("!I", addr)) + "\n")
        n += 1
print(f"bench: {len(tab)} routes ({sum(p == 'p1' for _, p in tab)} via p1), {n} destinations",
      file=sys.stderr)
EOF
NROUTES=$(wc -l <"$W/kernel.batch")

# ---- topology
ns_add g
ns_add r
ns_add s
veth g "$A0" r "$P0"
veth r "$P1" s "$B0"
veth r "$P2" s "$C0"
for n in g r s; do in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
for x in "g $A0 $MAC_A0" "r $P0 $MAC_P0" "r $P1 $MAC_P1" "r $P2 $MAC_P2" "s $B0 $MAC_B0" "s $C0 $MAC_C0"; do
	set -- $x
	ip -n "$NS-$1" link set "$2" address "$3" || die "mac of $2"
done
in_ns r ethtool -K "$P0" gro on >/dev/null || die "ethtool -K $P0 gro on"
# veth_xmit hands an skb to p0's NAPI only if it is "eligible for GRO": the sending device
# (a0) has no TSO feature (or the skb's destructor is sock_wfree and p0 forwards UDP GRO;
# AF_PACKET's TX ring uses its own destructor). Otherwise the skb goes through netif_rx, the
# backlog of the sender's core, and Linux would forward on CPU_GEN beside the generator.
in_ns g ethtool -K "$A0" tso off >/dev/null || die "ethtool -K $A0 tso off"

# Turns on threaded NAPI for IF in namespace NS and pins its thread(s) to CPU.
napi_pin() { # ns if cpu [fifo]
	local ns=$1 ifc=$2 cpu=$3 fifo=${4:-} p
	in_ns "$ns" sh -c "echo 1 >/sys/class/net/$ifc/threaded" || die "threaded NAPI on $ifc"
	wait_for 5 pgrep "^napi/$ifc-" || die "no NAPI thread for $ifc"
	for p in $(pgrep "^napi/$ifc-"); do
		taskset -pc "$cpu" "$p" >/dev/null || die "cannot pin napi/$ifc to CPU $cpu"
		if [ -n "$fifo" ]; then chrt -f -p 50 "$p" || die "chrt napi/$ifc"; fi
	done
	echo "$(pgrep -l "^napi/$ifc-" | awk '{print $2}' | xargs) -> CPU $cpu${fifo:+ (SCHED_FIFO)}"
}

# The sinks: XDP_DROP on b0 and c0, their NAPI on CPU_GEN, deferred re-arming as in
# bench/bridge.sh (no inter-processor interrupt per frame for the router's transmit).
PLACE_SINK=
for i in "$B0" "$C0"; do
	bg "sink-$i" in_ns s taskset -c "$CPU_GEN" "$BIN/xdp-peer" drop "$i"
	wait_for 5 grep -q attached "$W/sink-$i.log" || die "sink $i: $(cat "$W/sink-$i.log")"
	PLACE_SINK="$PLACE_SINK $(napi_pin s "$i" "$CPU_GEN" fifo);"
	if [ "$SINK_POLL_NS" -gt 0 ]; then
		in_ns s sh -c "echo 100 >/sys/class/net/$i/napi_defer_hard_irqs &&
			echo $SINK_POLL_NS >/sys/class/net/$i/gro_flush_timeout" || die "sink NAPI deferral"
	fi
done
PLACE_SINK="${PLACE_SINK# } polled every $((SINK_POLL_NS / 1000)) us"

sink_count() {
	echo $(($(in_ns s cat "/sys/class/net/$B0/statistics/rx_packets") +
		$(in_ns s cat "/sys/class/net/$C0/statistics/rx_packets")))
}
# CPU time (clock ticks) of p0's NAPI thread(s): where Linux forwards and AF_XDP copies in.
napi_ticks() {
	local p t=0
	for p in $(pgrep "^napi/$P0-"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
COUNT=sink_count # what a run counts as delivered; the sender row counts p0_rx
p0_rx() { in_ns r cat "/sys/class/net/$P0/statistics/rx_packets"; }
p0_drops() { in_ns r cat "/sys/class/net/$P0/statistics/rx_dropped"; }
st() { in_ns "$1" cat "/sys/class/net/$2/statistics/$3"; }
drops() {
	echo "p0 rx $(p0_drops), p1/p2 tx $(st r "$P1" tx_dropped)/$(st r "$P2" tx_dropped)," \
		"b0/c0 rx $(st s "$B0" rx_dropped)/$(st s "$C0" rx_dropped)"
}

# One measured run; sets M_DELIV, M_OFFER (pps), M_DROP (frames dropped at p0 in the window).
measure_once() { # label skb|live
	local label=$1 kind=$2 k n gpids=() c0 c1 t0 t1 d0 d1 n0 n1
	n=$([ "$kind" = live ] && echo "$LIVE_GENS" || echo "$GENS")
	local spec=netmap:$A0/packet mode=tx ready='opened\|AF_PACKET'
	[ "$kind" = live ] && spec=netmap:$A0 mode=live ready='XDP live frames'
	for k in $(seq 1 "$n"); do
		bg "gen-$label-$k" in_ns g taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i "$spec" \
			-f "$mode" -l 60 -S "$MAC_A0" -D "$MAC_P0" -s 10.81.1.2:40000 -F "$W/dst.txt" \
			-T 0 -t $((WARM + WIN + 5))
		gpids+=("$BG_PID")
		wait_for 20 grep -q "$ready" "$W/gen-$label-$k.log" ||
			die "generator: $(cat "$W/gen-$label-$k.log")"
	done
	sleep "$WARM" # warmup (a timed window, not synchronization)
	c0=$($COUNT) d0=$(p0_drops) n0=$(napi_ticks)
	t0=$(date +%s.%N)
	sleep "$WIN" # the measurement window
	c1=$($COUNT) d1=$(p0_drops) n1=$(napi_ticks)
	t1=$(date +%s.%N)
	stop_gens "$W/gen-$label-" "${gpids[@]}"
	M_DELIV=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
	M_OFFER=$GENS_PPS
	M_DROP=$(echo "($d1 - $d0) / ($t1 - $t0)" | bc -l)
	M_NAPI=$(awk -v n=$((n1 - n0)) -v hz="$(getconf CLK_TCK)" -v t="$(echo "$t1 - $t0" | bc -l)" \
		'BEGIN { printf "%.0f\n", 100 * n / hz / t }')
}

# RUNS measurements for a row; sets R_<row> (median Mpps), RUNS_<row>, OFF_<row>, DROP_<row>.
measure_row() { # row skb|live
	local row=$1 kind=$2 i d=() o=() x=() u=()
	for i in $(seq 1 "$RUNS"); do
		measure_once "$row-$i" "$kind"
		d+=("$(mpps "$M_DELIV")")
		o+=("$(mpps "$M_OFFER")")
		x+=("$(mpps "$M_DROP")")
		u+=("$M_NAPI")
	done
	printf -v "NAPI_$row" '%s' "$(median "${u[@]}")"
	printf -v "R_$row" '%s' "$(median "${d[@]}")"
	printf -v "RUNS_$row" '%s' "${d[*]}"
	printf -v "OFF_$row" '%s' "$(median "${o[@]}")"
	printf -v "DROP_$row" '%s' "$(median "${x[@]}")"
	echo "  $row: delivered ${d[*]} Mpps (offered ${o[*]}; p0 drops ${x[*]} Mpps; p0 NAPI thread ${u[*]} % of a core); cumulative drops: $(drops)" >&2
}

# nmrouter: starts CONFIG in ns r (or the root ns for pipes) on CPU_APP; sets NM_PID, NM_LOG.
nm_start() { # name config ns|-
	local name=$1 cfg=$2 ns=$3
	NM_LOG=$W/$name.log NM_STATS=$W/$name.stats
	if [ "$ns" = - ]; then
		bg "$name" taskset -c "$CPU_APP" "$NMROUTER" -c "$cfg" -s "$NM_STATS"
	else
		bg "$name" in_ns "$ns" taskset -c "$CPU_APP" "$NMROUTER" -c "$cfg" -s "$NM_STATS"
	fi
	NM_PID=$BG_PID
	wait_for 120 nm_up || die "nmrouter did not start: $(tail -5 "$NM_LOG")"
	grep -q "ready:" "$NM_LOG" || die "nmrouter: $(tail -5 "$NM_LOG")"
	kill -0 "$NM_PID" || die "nmrouter exited: $(tail -5 "$NM_LOG")"
}
# A counter from the last stats file: nm_stat KEY (a top-level key or a drop reason).
nm_stat() {
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); k=sys.argv[2]
print(d[k] if k in d else d["drops"][k])' "$NM_STATS" "$1"
}
nm_up() { grep -q "ready:" "$NM_LOG" || ! kill -0 "$NM_PID" 2>/dev/null; }
nm_stop() {
	stop_bg "$NM_PID" || die "nmrouter exited non-zero: $(tail -5 "$NM_LOG")"
}
# nmrouter's "forwarded" counter (SIGUSR1 writes the stats file).
nm_forwarded() {
	rm -f "$NM_STATS"
	kill -USR1 "$NM_PID"
	wait_for 5 test -s "$NM_STATS" || die "no stats from nmrouter"
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["forwarded"])' "$NM_STATS"
}

for r in sender linux nmrouter live pipes; do
	printf -v "R_$r" n/a
	printf -v "RUNS_$r" -
	printf -v "OFF_$r" -
	printf -v "DROP_$r" -
	printf -v "NAPI_$r" -
done
PLACE_P0=$(napi_pin r "$P0" "$CPU_APP")
# p0's NAPI with deferred re-arming (IN_POLL_NS > 0), like the sinks', the same for every row.
IN_POLL_NS=${IN_POLL_NS:-20000}
p0_defer() {
	[ "$IN_POLL_NS" -gt 0 ] || return 0
	in_ns r sh -c "echo 100 >/sys/class/net/$P0/napi_defer_hard_irqs &&
		echo $IN_POLL_NS >/sys/class/net/$P0/gro_flush_timeout" || die "p0 NAPI deferral"
}
p0_defer
[ "$IN_POLL_NS" -gt 0 ] && PLACE_P0="$PLACE_P0, polled every $((IN_POLL_NS / 1000)) us"
NM_MODE=? NM_LOAD=?

# PERF=1: one more run of ROW (skb sender, not counted) under perf record -g on CPU_APP;
# leaves PERF_DIR/ROW.{data,txt} (top symbols) and ROW-dso.txt (by command and object).
perf_run() { # row
	local row=$1 pd=${PERF_DIR:-$W} ppid
	mkdir -p "$pd"
	echo "bench: perf record -g -C $CPU_APP on one more $row run (not counted)" >&2
	perf record -q -g -C "$CPU_APP" -o "$pd/$row.data" -- sleep $((WARM + WIN)) \
		>/dev/null 2>&1 &
	ppid=$!
	measure_once "$row-perf" skb
	wait "$ppid" || true
	echo "  $row under perf: delivered $(mpps "$M_DELIV") Mpps" >&2
	local comms
	comms=$(pgrep -l "^napi/$P0-" | awk '{print substr($2, 1, 15)}' | xargs | tr ' ' ,) # perf: 15 chars
	[ "$row" = nmrouter ] && comms="$comms,nmrouter"
	echo "$comms" >"$pd/$row.comms"
	perf report -i "$pd/$row.data" --no-children --comms "$comms" --sort dso,sym --stdio 2>/dev/null |
		grep '^ *[0-9.]*%' | head -25 >"$pd/$row.txt" || true
	perf report -i "$pd/$row.data" --no-children --sort comm,dso --stdio 2>/dev/null |
		grep '^ *[0-9.]*%' | head -10 >"$pd/$row-dso.txt" || true
}

# (b), (b'): nmrouter on the veths (first: the kernel side of ns r has no addresses or routes
# yet, so nothing of Linux's own stack runs beside it).
row_nmrouter() {
	local t0=$SECONDS
	nm_start nmrouter "$W/veth.json" r
	NM_LOAD=$((SECONDS - t0))
	NM_MODE=$(grep -o 'AF_XDP [a-z-]* [a-z-]*' "$NM_LOG" | head -1 || true)
	napi_pin r "$P0" "$CPU_APP" >/dev/null # the AF_XDP socket re-created p0's NAPI instance
	p0_defer
	for r in $ROWS; do
		case $r in
		nmrouter)
			echo "bench: (b) nmrouter, skb sender" >&2
			measure_row nmrouter skb
			;;
		live)
			echo "bench: (b') nmrouter, XDP live-frames sender" >&2
			local b0 b1
			nm_forwarded >/dev/null
			b0=$(nm_stat bad_csum)
			measure_row live live
			nm_forwarded >/dev/null
			b1=$(nm_stat bad_csum)
			if [ "$b1" -gt "$b0" ]; then
				echo "  live: INVALID: nmrouter counted $((b1 - b0)) frames with a bad IPv4 header checksum" \
					"row reported as n/a" >&2
				R_live=n/a RUNS_live="invalid (bad_csum)"
			fi
			;;
		esac
	done
	[ "$PERF" = 1 ] && perf_run nmrouter
	nm_stop
	if in_ns r ip -d link show "$P0" | grep -q 'prog/xdp'; then die "nmrouter left an XDP program on $P0"; fi
	return 0
}

# (a): Linux forwarding.
row_linux() {
	echo "bench: (a) Linux IPv4 forwarding: installing $NROUTES routes" >&2
	local t0=$SECONDS
	in_ns r sysctl -qw net.ipv4.ip_forward=1
	for c in all default "$P0" "$P1" "$P2"; do in_ns r sysctl -qw "net.ipv4.conf.$c.rp_filter=0"; done
	in_ns r ip addr add 10.81.1.1/24 dev "$P0"
	in_ns r ip addr add 10.81.2.1/24 dev "$P1"
	in_ns r ip addr add 10.81.3.1/24 dev "$P2"
	in_ns r ip neigh replace 10.81.2.2 lladdr "$MAC_B0" dev "$P1" nud permanent
	in_ns r ip neigh replace 10.81.3.2 lladdr "$MAC_C0" dev "$P2" nud permanent
	in_ns r ip -batch "$W/kernel.batch" || die "ip -batch of the routes failed"
	local n
	n=$(in_ns r ip -4 route show | wc -l)
	[ "$n" -ge "$NROUTES" ] || die "kernel has $n routes, want >= $NROUTES"
	LX_LOAD=$((SECONDS - t0))
	# After an XDP program left p0 (nmrouter's), the veth keeps its NAPI instance but
	# veth_xmit no longer uses it: the frames go through the backlog of the sender's core
	# (CPU_GEN), and Linux would forward there. Toggling GRO brings the NAPI path back.
	in_ns r ethtool -K "$P0" gro off >/dev/null && in_ns r ethtool -K "$P0" gro on >/dev/null ||
		die "GRO toggle on $P0"
	napi_pin r "$P0" "$CPU_APP" >/dev/null
	p0_defer
	measure_row linux skb
	[ "$PERF" = 1 ] && perf_run linux
	return 0
}
LX_LOAD=?

# (c): the engine alone over pipes.
row_pipes() {
	echo "bench: (c) nmrouter over pipes" >&2
	local i p=() o=() k f0 f1 t0 t1 rpids gp
	for i in $(seq 1 "$RUNS"); do
		nm_start "pipes-$i" "$W/pipes.json" -
		rpids=()
		for k in y z; do
			bg "piperx-$i-$k" taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i "netmap:$G$k{0" -f rx \
				-T 0 -t $((WARM + WIN + 10))
			rpids+=("$BG_PID")
			wait_for 10 grep -q opened "$W/piperx-$i-$k.log" || die "pipe rx did not open: $(cat "$W/piperx-$i-$k.log")"
		done
		bg "pipetx-$i" taskset -c "$CPU_GEN" "$BIN/pkt-gen" -i "netmap:${G}x{0" -f tx -l 60 \
			-S "$MAC_A0" -D "$MAC_P0" -s 10.81.1.2:40000 -F "$W/dst.txt" -T 0 \
			-t $((WARM + WIN + 3))
		gp=$BG_PID
		sleep "$WARM" # warmup (a timed window)
		f0=$(nm_forwarded)
		t0=$(date +%s.%N)
		sleep "$WIN" # the measurement window
		f1=$(nm_forwarded)
		t1=$(date +%s.%N)
		stop_bg "$gp" || die "pipe tx: $(cat "$W/pipetx-$i.log")"
		for k in "${rpids[@]}"; do stop_bg "$k" || die "pipe rx failed"; done
		nm_stop
		p+=("$(mpps "$(echo "($f1 - $f0) / ($t1 - $t0)" | bc -l)")")
		o+=("$(mpps "$(pps_of "$W/pipetx-$i.log")")")
	done
	R_pipes=$(median "${p[@]}")
	RUNS_pipes=${p[*]}
	OFF_pipes=$(median "${o[@]}")
	echo "  pipes: forwarded ${p[*]} Mpps (offered ${o[*]})" >&2
}

for r in $ROWS; do
	case $r in sender | linux | nmrouter | live | pipes) ;; *) die "ROWS: unknown row $r (sender linux nmrouter live pipes)" ;; esac
done
if [[ " $ROWS " == *" sender "* ]]; then
	# (s): the skb sender alone into p0 (no router: p0's kernel side has no address, so each
	# frame is dropped right after ip_rcv on CPU_APP): what it can offer at most.
	echo "bench: (s) the skb sender alone (frames counted at p0)" >&2
	COUNT=p0_rx
	measure_row sender skb
	COUNT=sink_count
fi
if [[ " $ROWS " == *" nmrouter "* || " $ROWS " == *" live "* ]]; then row_nmrouter; fi
if [[ " $ROWS " == *" linux "* ]]; then row_linux; fi
if [[ " $ROWS " == *" pipes "* ]]; then row_pipes; fi

# ---- table, ratio, rows
ra=$(ratio "$R_nmrouter" "$R_linux")
met() { # ratio target
	awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "met";
		else print "MISSED" }'
}
row linux-ipv4-forward delivered_64B_fulltable "$R_linux" Mpps
row nmrouter delivered_64B_fulltable "$R_nmrouter" Mpps
row nmrouter/linux-ipv4-forward delivered_ratio "$ra" x
row nmrouter-live-frames-sender delivered_64B_fulltable "$R_live" Mpps
row nmrouter-pipes forwarded_64B_fulltable_per_core "$R_pipes" Mpps
row skb-sender-to-p0-kernel-drop received_at_p0_64B "$R_sender" Mpps

echo
echo "IPv4 routing, full table ($NROUTES prefixes over 2 egress ports), 64-byte frames to $NDST random"
echo "destinations, delivered at the sinks, median of $RUNS runs (${WIN}s windows after ${WARM}s warmup)"
echo "senders: (a) (b) pkt-gen -f tx on AF_PACKET (skb, qdisc bypass) x$GENS; (b') pkt-gen -f live x$LIVE_GENS"
echo "nmrouter: ${NM_MODE:-?}, 1 worker; binary sha256 $NM_SHA, tree $NM_REV"
echo "table load: kernel ip -batch ${LX_LOAD}s, nmrouter start ${NM_LOAD}s"
echo "placement: generators CPU $CPU_GEN; sinks $PLACE_SINK; p0 $PLACE_P0; nmrouter on CPU $CPU_APP"
echo "load average (1/5/15 min) before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)" \
	"(shared VM: other work skews every row)"
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' row system Mpps offered "p0 drops" "NAPI %" runs
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' "(s)" "skb sender -> p0, kernel drop" "$R_sender" "$OFF_sender" "$DROP_sender" "$NAPI_sender" "$RUNS_sender"
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' "(a)" "linux ip_forward (skb sender)" "$R_linux" "$OFF_linux" "$DROP_linux" "$NAPI_linux" "$RUNS_linux"
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' "(b)" "nmrouter (skb sender)" "$R_nmrouter" "$OFF_nmrouter" "$DROP_nmrouter" "$NAPI_nmrouter" "$RUNS_nmrouter"
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' "(b')" "nmrouter (live-frames sender)" "$R_live" "$OFF_live" "$DROP_live" "$NAPI_live" "$RUNS_live"
printf '%-4s %-30s %8s %8s %9s %7s  %s\n' "(c)" "nmrouter pipes, 1 core" "$R_pipes" "$OFF_pipes" - - "$RUNS_pipes"
echo "ratio nmrouter/linux = (b)/(a) = ${ra}x (target >= 1.5: $(met "$ra" 1.5))"
if [ "$PERF" = 1 ]; then
	pd=${PERF_DIR:-$W}
	for r in nmrouter linux; do
		[ -s "$pd/$r.txt" ] || continue
		echo
		echo "perf record -g -C $CPU_APP during one more $r run: CPU $CPU_APP by command / object"
		cat "$pd/$r-dso.txt"
		echo "top symbols (self, % of all samples on CPU $CPU_APP; only $(cat "$pd/$r.comms")):"
		cat "$pd/$r.txt"
	done
fi
bench_write
