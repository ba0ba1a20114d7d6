#!/usr/bin/env bash
# Runs unit test binaries and integration test scripts; prints one summary line.
#   tests/run.sh unit BIN...            tests/run.sh integ SCRIPT...
#   tests/run.sh all BIN... -- SCRIPT...
# A script ending in .py runs under pytest (Debian's /usr/bin/python3). Exit 77 means
# "skipped"; with CI=true a skip is a failure (nothing missing may pass silently).
set -u
cd "$(dirname "$0")/.."
mode=$1; shift
units=(); integs=()
case $mode in
unit) units=("$@") ;;
integ) integs=("$@") ;;
all)
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do units+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	integs=("$@")
	;;
*) echo "usage: $0 unit|integ|all ..." >&2; exit 2 ;;
esac

pass=0; fail=0; skip=0; failed=()
mkdir -p build/test-logs
run_one() { # name, command...
	local name=$1; shift
	local log="build/test-logs/$(echo "$name" | tr '/' '_').log"
	local t0=$SECONDS rc
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS  %-45s %4ss\n' "$name" $((SECONDS - t0))
	elif [ $rc -eq 77 ] && [ "${CI:-}" != "true" ]; then
		skip=$((skip + 1)); printf 'SKIP  %-45s (%s)\n' "$name" "$(tail -n1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-45s rc=%d, last lines of %s:\n' "$name" $rc "$log"
		tail -n 25 "$log" | sed 's/^/      /'
	fi
}

for u in "${units[@]}"; do run_one "$u" "$u"; done
for s in "${integs[@]}"; do
	case $s in
	*.py) run_one "$s" timeout 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider "$s" ;;
	*) run_one "$s" timeout 900 "$s" ;;
	esac
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "tests: $pass passed, $fail failed, $skip skipped"
else
	echo "tests: $pass passed, $fail failed"
fi
[ $fail -eq 0 ]
