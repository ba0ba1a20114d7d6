#!/usr/bin/env bash
# make demo: a lab of network namespaces and veth pairs, the appliance in the middle,
# traffic across it, its counters; everything is removed on exit.
#
#   h1 (10.60.0.1) ==veth== [ nmbridge ] ==veth== (10.60.0.2) h2
#
# Then, if nmrouter is built, the same hosts on two subnets with nmrouter between them.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
P=nmdemo
TMP=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in h1 br h2 rt; do ip netns del "$P-$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces)"; exit 1; }
fail() { printf '\n\033[1m!! FAILED: %s\033[0m\n' "$*"; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ns() { ip netns exec "$P-$1" "${@:2}"; }
wait_log() { # file text secs
	local d=$((SECONDS + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $d ] && { echo "timed out waiting for '$2' in $1"; cat "$1"; exit 1; }
		sleep 0.05
	done
}

for n in h1 br h2; do ip netns del "$P-$n" 2>/dev/null; ip netns add "$P-$n"; ns $n ip link set lo up; done
ip link add e1 netns $P-h1 type veth peer name p1 netns $P-br
ip link add e2 netns $P-h2 type veth peer name p2 netns $P-br
for x in "h1 e1" "br p1" "br p2" "h2 e2"; do
	set -- $x
	ns $1 ip link set $2 up
	ns $1 ethtool -K $2 tx off >/dev/null 2>&1 # finished checksums across a userspace data plane
done
ns h1 ip addr add 10.60.0.1/24 dev e1
ns h2 ip addr add 10.60.0.2/24 dev e2

say "nmbridge between h1 and h2 (namespaces $P-h1, $P-br, $P-h2)"
echo "\$ nmbridge -i netmap:p1 -i netmap:p2 -v"
ip netns exec "$P-br" "$BIN/nmbridge" -i netmap:p1 -i netmap:p2 -v >"$TMP/bridge.log" 2>&1 &
bpid=$!
pids+=("$bpid")
wait_log "$TMP/bridge.log" "nmbridge: netmap:p1" 10
cat "$TMP/bridge.log"

say "ping h1 -> h2 across the bridge"
ns h1 ping -c 4 -i 0.2 10.60.0.2 || fail "ping across the bridge"

say "TCP: 20 MB from h1 to h2 through nc, checked by sha256"
head -c 20000000 /dev/urandom >"$TMP/data"
ns h2 sh -c "exec nc -l -p 5001 -N > $TMP/got" &
pids+=($!)
d=$((SECONDS + 10))
until ns h2 ss -ltn | grep -q :5001; do [ $SECONDS -ge $d ] && break; sleep 0.05; done
t0=$(date +%s.%N)
ns h1 sh -c "nc -N -w 10 10.60.0.2 5001 < $TMP/data"
t1=$(date +%s.%N)
d=$((SECONDS + 10))
until [ "$(stat -c %s "$TMP/got" 2>/dev/null)" = 20000000 ]; do [ $SECONDS -ge $d ] && break; sleep 0.05; done
a=$(sha256sum <"$TMP/data" | cut -c1-16); b=$(sha256sum <"$TMP/got" | cut -c1-16)
echo "sent $a, received $b: $([ "$a" = "$b" ] && echo identical || echo DIFFERENT) ($(echo "scale=2; 20*8/($t1-$t0)" | bc 2>/dev/null || echo '?') Mbit/s)"
[ "$a" = "$b" ] || fail "TCP transfer across the bridge"

say "nmbridge counters (SIGUSR1), then stop (SIGINT): totals and buffer audit"
kill -USR1 "$bpid"
wait_log "$TMP/bridge.log" "totals:" 5
kill -INT "$bpid"
wait "$bpid"
grep -E "Mpps|totals|nmbridge: (A->B|pool)" "$TMP/bridge.log" | tail -6

if [ -x "$BIN/nmrouter" ] && [ -x "$TOP/tools/demo-router.sh" ]; then
	"$TOP/tools/demo-router.sh" "$P" "$TMP" || fail "router demo"
fi
say "done; namespaces removed"
