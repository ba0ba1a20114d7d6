#!/usr/bin/env bash
# Port layer end to end: pkt-gen tx on one end of a veth pair, pkt-gen rx on the other, over
# AF_XDP and over AF_PACKET, at a paced rate (20 kpps: the receiver may be descheduled for 100 ms
# on a loaded machine before its 2x1024 slots overflow): every packet arrives, byte for byte, in
# order, and the buffer audit holds on both sides. Pipes between two processes: every packet
# arrives. Host rings: the kernel answers a ping written into IF^ and the reply comes out of IF^.
# Bad specs fail fast and leave nothing behind.
. "$(dirname "$0")/../lib.sh"
nstest_init
ns_add a; ns_add b
veth a va b vb
for n in a b; do in_ns $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
N=50000

check_rx() { # log, expected count
	local log=$1 n=$2
	grep -q "^Received $n packets" "$log" || die "$log: not all $n packets arrived: $(cat "$log")"
	grep -q "Verified: lost 0, reordered 0, duplicates 0, bad 0, foreign 0" "$log" ||
		die "$log: verification failed: $(grep Verified "$log")"
	grep -q "pool audit ok" "$log" || die "$log: buffer audit failed: $(grep audit "$log")"
}

# The receiver must build the same frames as the sender: same -l and -s.
transfer_v() { # sfx label
	local sfx=$1 label=$2
	bg rx-$label in_ns b "$BIN/pkt-gen" -i "netmap:vb$sfx" -f rx -n $N -V -A -T 0 -W 5 -t 30 \
		-l 128 -s 10.0.0.1:1000-10.0.0.9:1009
	local rxpid=$BG_PID
	wait_for 10 grep -q opened "$NSTEST_TMP/rx-$label.log" || die "$label rx did not open: $(cat "$NSTEST_TMP/rx-$label.log")"
	grep -q "$label" "$NSTEST_TMP/rx-$label.log" || die "expected backend $label: $(cat "$NSTEST_TMP/rx-$label.log")"
	in_ns a "$BIN/pkt-gen" -i "netmap:va$sfx" -f tx -n $N -R 20000 -l 128 -T 0 -A \
		-s 10.0.0.1:1000-10.0.0.9:1009 >"$NSTEST_TMP/tx-$label.log" 2>&1 ||
		die "$label tx failed: $(cat "$NSTEST_TMP/tx-$label.log")"
	grep -q "pool audit ok" "$NSTEST_TMP/tx-$label.log" || die "$label tx audit: $(cat "$NSTEST_TMP/tx-$label.log")"
	wait "$rxpid" || die "$label rx exited non-zero: $(cat "$NSTEST_TMP/rx-$label.log")"
	check_rx "$NSTEST_TMP/rx-$label.log" $N
	echo "ok: $label: $N packets byte for byte, audit ok"
}

transfer_v "" "AF_XDP"
transfer_v "/packet" "AF_PACKET"
in_ns a ip -d link show va | grep -q xdp && die "an XDP program stayed attached to va"
in_ns b ip -d link show vb | grep -q xdp && die "an XDP program stayed attached to vb"

# XDP live frames (the benchmarks' generator) spread over 8 destinations: every frame has a
# valid IPv4 header checksum (the receiving kernel counts bad ones in IpExtInCsumErrors).
M=$(in_ns b cat /sys/class/net/vb/address)
in_ns b ethtool -K vb gro on >/dev/null 2>&1 # XDP frames into a veth need GRO or an XDP prog
in_ns b ip addr add 10.0.1.254/24 dev vb
snmp() { in_ns b nstat -asz "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
in0=$(snmp IpInReceives) cs0=$(snmp IpExtInCsumErrors) hd0=$(snmp IpInHdrErrors)
in_ns a "$BIN/pkt-gen" -i netmap:va -f live -n 20000 -D "$M" -s 10.0.0.1 \
	-d 10.0.1.1-10.0.1.8 -T 0 >"$NSTEST_TMP/live.log" 2>&1 || die "live: $(cat "$NSTEST_TMP/live.log")"
live_in() { [ $(($(snmp IpInReceives) - in0)) -ge 20000 ]; }
wait_for 10 live_in || die "live: only $(($(snmp IpInReceives) - in0)) of 20000 frames reached vb's IP layer"
cs=$(($(snmp IpExtInCsumErrors) - cs0)) hd=$(($(snmp IpInHdrErrors) - hd0))
[ "$cs" = 0 ] || die "live: $cs of 20000 frames with a bad IPv4 checksum"
[ "$hd" = 0 ] || die "live: $hd IPv4 header errors"
echo "ok: live frames: $(($(snmp IpInReceives) - in0)) received by the kernel over 8 destinations, 0 checksum errors"

# Pipes between two processes.
G="t$$"
bg piperx "$BIN/pkt-gen" -i "netmap:$G}0" -f rx -n 200000 -V -A -T 0 -W 5 -t 30
rxpid=$BG_PID
wait_for 10 grep -q opened "$NSTEST_TMP/piperx.log" || die "pipe rx did not open"
"$BIN/pkt-gen" -i "netmap:$G{0" -f tx -n 200000 -T 0 -A >"$NSTEST_TMP/pipetx.log" 2>&1 || die "pipe tx: $(cat "$NSTEST_TMP/pipetx.log")"
wait "$rxpid" || die "pipe rx failed: $(cat "$NSTEST_TMP/piperx.log")"
check_rx "$NSTEST_TMP/piperx.log" 200000
[ -e "/dev/shm/nmbox-pipe-$G" ] && die "pipe shared memory left behind"
echo "ok: pipes: 200000 packets between two processes"

# Host rings: ping the host stack through netmap:va^ (a TAP named nmh-va).
in_ns a "$BIN/tests/host_ping" "netmap:va^" \
	"ip addr add 10.9.0.1/24 dev nmh-va && ip neigh add 10.9.0.2 lladdr 02:00:00:00:00:99 dev nmh-va" \
	10.9.0.2 10.9.0.1 >"$NSTEST_TMP/host.log" 2>&1 || die "host rings: $(cat "$NSTEST_TMP/host.log")"
grep -q "pool audit ok" "$NSTEST_TMP/host.log" || die "host ring audit: $(cat "$NSTEST_TMP/host.log")"
in_ns a ip link show nmh-va >/dev/null 2>&1 && die "TAP nmh-va left behind"
echo "ok: host rings: $(grep "^host_ping:" "$NSTEST_TMP/host.log")"

# AF_XDP buffer ownership on error and close paths (sys/tests/xdp_own.c): two ends of a
# veth pair in one namespace.
veth a xa a xb
in_ns a "$BIN/tests/xdp_own" xa xb >"$NSTEST_TMP/own.log" 2>&1 || die "xdp_own: $(cat "$NSTEST_TMP/own.log")"
in_ns a ip -d link show xa | grep -q xdp && die "an XDP program stayed attached to xa"
in_ns a ip -d link show xb | grep -q xdp && die "an XDP program stayed attached to xb"
sed 's/^/ok: /' "$NSTEST_TMP/own.log"

# AF_PACKET on a multi-queue interface: one socket sees every queue, so netmap:IF/packet
# opens one ring pair (it must not try a socket per queue and fail).
ip link add qa netns "$NS-a" numtxqueues 2 numrxqueues 2 type veth peer name qb netns "$NS-a" \
	numtxqueues 2 numrxqueues 2 || die "veth qa/qb"
in_ns a ip link set qa up && in_ns a ip link set qb up
bg rx-mq in_ns a "$BIN/pkt-gen" -i netmap:qa/packet -f rx -n 1000 -V -A -T 0 -W 5 -t 30
rxpid=$BG_PID
wait_for 10 grep -q "opened\|pkt-gen:" "$NSTEST_TMP/rx-mq.log"
grep -q "opened, 1 ring pair, AF_PACKET" "$NSTEST_TMP/rx-mq.log" ||
	die "netmap:qa/packet on 2 queues: $(cat "$NSTEST_TMP/rx-mq.log")"
in_ns a "$BIN/pkt-gen" -i netmap:qb/packet -f tx -n 1000 -R 50000 -T 0 >"$NSTEST_TMP/tx-mq.log" 2>&1 ||
	die "netmap:qb/packet tx: $(cat "$NSTEST_TMP/tx-mq.log")"
wait "$rxpid" || die "netmap:qa/packet rx: $(cat "$NSTEST_TMP/rx-mq.log")"
check_rx "$NSTEST_TMP/rx-mq.log" 1000
echo "ok: AF_PACKET on a 2-queue veth: $(grep opened "$NSTEST_TMP/rx-mq.log"), 1000 packets byte for byte"

# More queues than a port has ring pairs (16): the open fails and says so, rather than
# opening the first 15 queues and never seeing the frames hashed to the others.
ip link add big0 netns "$NS-a" numtxqueues 20 numrxqueues 20 type veth peer name big1 netns "$NS-a" \
	numtxqueues 20 numrxqueues 20 || die "veth big0/big1"
in_ns a ip link set big0 up && in_ns a ip link set big1 up
out=$(in_ns a timeout 10 "$BIN/pkt-gen" -i netmap:big0 -f rx -n 1 -t 1 -T 0 2>&1) &&
	die "netmap:big0 with 20 queues was accepted: $out"
echo "$out" | grep -q "20 queues" || die "netmap:big0 with 20 queues: $out"
in_ns a ip -d link show big0 | grep -q xdp && die "an XDP program stayed attached to big0"
echo "ok: 20 queues: $out"
out=$(in_ns a timeout 10 "$BIN/pkt-gen" -i netmap:big0/packet -f rx -n 1 -t 1 -T 0 2>&1) ||
	die "netmap:big0/packet (one socket for 20 queues): $out"
echo "$out" | grep -q "opened, 1 ring pair, AF_PACKET" || die "netmap:big0/packet: $out"
echo "ok: 20 queues over AF_PACKET: $(echo "$out" | grep opened)"

# Bad specs: fail fast, non-zero, one clear line, nothing left behind.
for spec in netmap:nosuchif netmap:va-99 foo "" "netmap:va/bogus"; do
	out=$(in_ns a timeout 5 "$BIN/pkt-gen" -i "$spec" -f rx -T 0 -n 1 2>&1) && die "spec '$spec' was accepted"
	echo "$out" | grep -q "pkt-gen: .*" || die "spec '$spec': no message: $out"
	echo "ok: bad spec '$spec': $out"
done
in_ns a ip -d link show va | grep -q xdp && die "an XDP program stayed attached after a failed open"

# Bad numeric options: exit 2 with a line that names the option, before any port opens
# (no "1e6" read as 1, no "abc" read as 0 = no limit, no 2^32+1 wrapped to 1).
for o in "-n abc" "-n 1e6" "-n -1" "-b 4294967297" "-b 10x" "-l 60x" "-T -5" "-T abc" \
	"-R abc" "-R -1" "-t 5s" "-w x" "-W -2"; do
	out=$(in_ns a timeout 5 "$BIN/pkt-gen" -i netmap:nosuchif -f rx -q $o 2>&1)
	rc=$?
	[ $rc = 2 ] || die "pkt-gen $o: exit $rc, want 2: $out"
	echo "$out" | grep -qF -- "pkt-gen: $o:" || die "pkt-gen $o: message does not name it: $out"
	echo "ok: bad option '$o': $out"
done
ls /dev/shm | grep -q "nmbox-pipe-$G" && die "stale shared memory"
echo "ports: all checks passed"
