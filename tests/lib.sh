# Shared helpers for integration tests (source it). Every test makes its own namespaces
# with a unique prefix and removes them on exit, whatever happens.
#   nstest_init          sets NS (prefix), installs the cleanup trap
#   ns_add NAME          creates namespace $NS-NAME, lo up
#   veth NSA IFA NSB IFB creates a veth pair between two namespaces (or "" for the root ns)
#   in_ns NAME cmd...    runs cmd in namespace $NS-NAME
#   wait_for SECS cmd... polls cmd every 50 ms until it succeeds; fails after SECS
#   bg NAME cmd...       starts cmd in the background, remembered for cleanup
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$TOP/bin
PY=/usr/bin/python3

die() { echo "FAIL: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }; }

_ns_list=(); _bg_pids=()
nstest_cleanup() {
	local p n
	# every step may fail (a process already gone): never abort the cleanup under set -e
	for p in "${_bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || :; done
	for p in "${_bg_pids[@]}"; do
		for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null || :
	done
	for n in "${_ns_list[@]}"; do ip netns del "$n" 2>/dev/null || :; done
	[ -n "${NSTEST_TMP:-}" ] && rm -rf "$NSTEST_TMP"
	return 0
}
nstest_init() {
	need_root
	NS="nmt$$"
	NSTEST_TMP=$(mktemp -d)
	trap 'nstest_cleanup' EXIT
	trap 'exit 130' INT TERM
}
ns_add() {
	ip netns add "$NS-$1" || die "ip netns add $NS-$1"
	_ns_list+=("$NS-$1")
	ip -n "$NS-$1" link set lo up
}
in_ns() { local n=$1; shift; ip netns exec "$NS-$n" "$@"; }
veth() { # nsA ifA nsB ifB
	ip link add "$2" netns "$NS-$1" type veth peer name "$4" netns "$NS-$3" || die "veth $2/$4"
	ip -n "$NS-$1" link set "$2" up
	ip -n "$NS-$3" link set "$4" up
}
wait_for() {
	local secs=$1; shift
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}
bg() { # name cmd... ; output to $NSTEST_TMP/name.log, pid in BG_PID
	local name=$1; shift
	# `in_ns` is a shell function: run `ip netns exec` directly (it execs the command), so
	# that BG_PID is the program itself and signals reach it, not a subshell around it.
	if [ "$1" = in_ns ]; then
		ip netns exec "$NS-$2" "${@:3}" >"$NSTEST_TMP/$name.log" 2>&1 &
	else
		"$@" >"$NSTEST_TMP/$name.log" 2>&1 &
	fi
	BG_PID=$!
	_bg_pids+=("$BG_PID")
}
# Stops a background process with SIGINT and waits (bounded) for it to exit; returns its status.
stop_bg() {
	local pid=$1 i
	kill -INT "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; return 124; }
	wait "$pid"
}
