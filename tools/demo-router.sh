#!/usr/bin/env bash
# The nmrouter part of `make demo` (tools/demo.sh calls it as: demo-router.sh PREFIX TMPDIR).
# It also runs alone, as root: tools/demo-router.sh [PREFIX [TMPDIR]].
#
#   h1 10.61.1.2          [ nmrouter in $P-rt ]          10.61.2.2 h2
#      fd61:1::2  ==veth== p1 10.61.1.1   p2 10.61.2.1 ==veth== fd61:2::2
#                          fd61:1::1      fd61:2::1             + 10.62.0.1, fd62::1, 10.63.0.1 on lo
#                          host port: TAP nmh-p1 (the namespace's own stack answers for p1)
#
# Static routes: 10.62.0.0/16 and fd62::/32 via h2; 10.63.0.0/16 is added live through the
# API (bin/nmctl on a Unix socket in TMPDIR). Every namespace and process it starts is
# removed on exit, whatever happened; every wait is bounded.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
P=${1:-nmdemo}
if [ -n "${2:-}" ]; then TMP=$2; OWNTMP=0; else TMP=$(mktemp -d); OWNTMP=1; fi
SOCK=$TMP/rt.sock
CFG=$TMP/rt.json
LOG=$TMP/rt.log
rpid=
bgpids=()
failed=()

cleanup() {
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$rpid" ] && kill -0 "$rpid" 2>/dev/null; then
		kill -INT "$rpid"
		for _ in $(seq 1 100); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$rpid" 2>/dev/null
	fi
	for n in h1 rt h2; do ip netns del "$P-$n" 2>/dev/null; done
	[ "$OWNTMP" = 1 ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "demo-router.sh needs root (network namespaces)"; exit 1; }
[ -x "$BIN/nmrouter" ] && [ -x "$BIN/nmctl" ] || { echo "build first: make"; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ns() { ip netns exec "$P-$1" "${@:2}"; }
nmctl() { echo "\$ nmctl $*"; "$BIN/nmctl" -s "$SOCK" "$@"; }
check() { # what command...: runs it, records a failure
	local what=$1
	shift
	"$@" || { echo "!! FAILED: $what"; failed+=("$what"); }
}
wait_for() { # secs what command...: polls until the command succeeds
	local secs=$1 what=$2
	local d=$((SECONDS + secs))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $d ] && { echo "timed out after ${secs}s waiting for $what"; return 1; }
		kill -0 "$rpid" 2>/dev/null || { echo "nmrouter exited:"; cat "$LOG"; exit 1; }
		sleep 0.05
	done
}

# ---- the lab (the bridge part's hosts, if any, are replaced by fresh ones)
for n in h1 rt h2; do ip netns del "$P-$n" 2>/dev/null; ip netns add "$P-$n"; ns $n ip link set lo up; done
ip link add e1 netns "$P-h1" type veth peer name p1 netns "$P-rt"
ip link add e2 netns "$P-h2" type veth peer name p2 netns "$P-rt"
ns h2 ip link set e2 address 02:00:00:00:00:02 # the config's static neighbor
for p in p1 p2; do
	# the router's interfaces carry no addresses and no IPv6 of the kernel's own
	ns rt sysctl -qw net.ipv6.conf.$p.disable_ipv6=1
	ns rt ip link set $p up
done
for x in "h1 e1 1" "h2 e2 2"; do
	set -- $x
	ns $1 ip link set $2 up
	ns $1 ethtool -K $2 tx off >/dev/null # finished checksums across a userspace data plane
	ns $1 ip addr add 10.61.$3.2/24 dev $2
	ns $1 ip addr add fd61:$3::2/64 dev $2 nodad
	ns $1 ip route add default via 10.61.$3.1
	ns $1 ip -6 route add default via fd61:$3::1
done
ns h2 ip addr add 10.62.0.1/32 dev lo   # behind h2: the config's static route
ns h2 ip addr add fd62::1/128 dev lo
ns h2 ip addr add 10.63.0.1/32 dev lo   # behind h2: the route added through the API

cat >"$CFG" <<EOF
{
  "comment": "make demo: h1 on p1 (host port), h2 on p2; keys in router/README.md",
  "ports": [
    {"name": "p1", "spec": "netmap:p1", "addresses": ["10.61.1.1/24", "fd61:1::1/64"], "host": true},
    {"name": "p2", "spec": "netmap:p2", "addresses": ["10.61.2.1/24", "fd61:2::1/64"]}
  ],
  "routes": [
    {"dst": "10.62.0.0/16", "gateway": "10.61.2.2", "dev": "p2"},
    {"dst": "fd62::/32", "gateway": "fd61:2::2"}
  ],
  "neighbors": [
    {"dst": "10.61.2.2", "lladdr": "02:00:00:00:00:02", "dev": "p2"}
  ],
  "workers": 1,
  "icmp_rate": 1000,
  "icmp_burst": 100,
  "api": {"unix": "$SOCK"}
}
EOF

say "nmrouter between h1 and h2 (namespaces $P-h1, $P-rt, $P-h2)"
cat <<EOF
  h1 10.61.1.2 fd61:1::2 --- p1 [nmrouter] p2 --- 10.61.2.2 fd61:2::2 h2
  p1 10.61.1.1 fd61:1::1, host port nmh-p1     p2 10.61.2.1 fd61:2::1
  routes: 10.62.0.0/16, fd62::/32 via h2 (addresses on h2's loopback)
EOF
echo "\$ cat rt.json"
cat "$CFG"
echo "\$ nmrouter -c rt.json --check"
check "config check" ns rt "$BIN/nmrouter" -c "$CFG" --check
echo "\$ nmrouter -c rt.json -s rt-stats.json"
ip netns exec "$P-rt" "$BIN/nmrouter" -c "$CFG" -s "$TMP/rt-stats.json" >"$LOG" 2>&1 &
rpid=$!
wait_for 30 "nmrouter ready" grep -q "ready:" "$LOG" || exit 1
wait_for 10 "the API socket" "$BIN/nmctl" -s "$SOCK" generation || exit 1
cat "$LOG"

say "ping h1 -> h2 across the router, IPv4 and IPv6 (ttl 63: one hop)"
check "ping 10.61.2.2" ns h1 ping -c 3 -i 0.2 -W 2 10.61.2.2
check "ping fd61:2::2" ns h1 ping -c 3 -i 0.2 -W 2 fd61:2::2
say "ping a static route's destination behind h2 (10.62.0.1, fd62::1)"
check "ping 10.62.0.1" ns h1 ping -c 2 -i 0.2 -W 2 10.62.0.1
check "ping fd62::1" ns h1 ping -c 2 -i 0.2 -W 2 fd62::1

say "ping the router itself: punted to its host port nmh-p1, answered by $P-rt's own stack (ttl 64)"
ns rt ip -br addr show nmh-p1
check "ping 10.61.1.1" ns h1 ping -c 2 -i 0.2 -W 2 10.61.1.1
check "ping fd61:1::1" ns h1 ping -c 2 -i 0.2 -W 2 fd61:1::1

say "TCP: 20 MB from h1 to h2 through nc, checked by sha256"
head -c 20000000 /dev/urandom >"$TMP/rt-data"
ns h2 sh -c "exec nc -l -p 5001 -N > $TMP/rt-got" &
bgpids+=($!)
wait_for 10 "nc listening in h2" sh -c "ip netns exec $P-h2 ss -ltn | grep -q :5001"
t0=$(date +%s.%N)
ns h1 sh -c "timeout 60 nc -N -w 10 10.61.2.2 5001 < $TMP/rt-data"
t1=$(date +%s.%N)
wait_for 10 "20000000 bytes at h2" test "$(stat -c %s "$TMP/rt-got" 2>/dev/null)" = 20000000
a=$(sha256sum <"$TMP/rt-data" | cut -c1-16); b=$(sha256sum <"$TMP/rt-got" | cut -c1-16)
echo "sent $a, received $b: $([ "$a" = "$b" ] && echo identical || echo DIFFERENT) ($(echo "scale=2; 20*8/($t1-$t0)" | bc 2>/dev/null || echo '?') Mbit/s)"
[ "$a" = "$b" ] || failed+=("TCP transfer")
rm -f "$TMP/rt-data" "$TMP/rt-got"

say "TTL 1: the router answers Time Exceeded instead of forwarding (first hop of a traceroute)"
echo "\$ ping -c 1 -t 1 10.61.2.2"
out=$(ns h1 ping -c 1 -t 1 -W 2 10.61.2.2 2>&1)
echo "$out"
echo "$out" | grep -q "Time to live exceeded" || failed+=("TTL 1 -> time exceeded")

say "no route to 10.63.0.1 yet: ICMP Destination Net Unreachable from the router"
out=$(ns h1 ping -c 1 -W 2 10.63.0.1 2>&1)
echo "$out"
echo "$out" | grep -q "Unreachable" || failed+=("no route -> unreachable")

say "add the route live through the JSON API (Unix socket $SOCK), then ping again"
check "nmctl route add" nmctl route add 10.63.0.0/16 via 10.61.2.2 dev p2
nmctl route show
check "ping 10.63.0.1" ns h1 ping -c 3 -i 0.2 -W 2 10.63.0.1

say "neighbors: the static one from the config, the rest learned by ARP/ND"
nmctl neigh

say "counters (GET /v1/stats; the same as SIGUSR1 -> rt-stats.json and GET /metrics)"
"$BIN/nmctl" -s "$SOCK" stats >"$TMP/rt-nmctl-stats" || failed+=("nmctl stats")
echo "\$ nmctl stats    (totals; drop reasons listed only when non-zero)"
sed -n '/^total:/,$p' "$TMP/rt-nmctl-stats"
kill -USR1 "$rpid"
wait_for 5 "the SIGUSR1 stats file" test -s "$TMP/rt-stats.json" &&
	echo "(kill -USR1 wrote $(wc -c <"$TMP/rt-stats.json") bytes of JSON to rt-stats.json: the same counters, per worker, links and neighbors)"

say "stop nmrouter (SIGINT): it closes the API, joins its workers, closes the ports"
kill -INT "$rpid"
d=$((SECONDS + 10))
while kill -0 "$rpid" 2>/dev/null && [ $SECONDS -lt $d ]; do sleep 0.05; done
if kill -0 "$rpid" 2>/dev/null; then
	echo "nmrouter did not stop within 10 s"
	failed+=("clean stop")
else
	wait "$rpid"
	rc=$?
	rpid=
	tail -n 1 "$LOG"
	echo "nmrouter exit status $rc"
	[ $rc = 0 ] || failed+=("exit status $rc")
fi
[ -e "$SOCK" ] && failed+=("API socket left behind")

if [ ${#failed[@]} -gt 0 ]; then
	say "router demo: FAILED: ${failed[*]}"
	exit 1
fi
say "router demo: all steps worked"
