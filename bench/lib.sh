# bench/lib.sh — what every benchmark script shares (source it after tests/lib.sh).
#
#   bench_init NAME      results go to bench/results/NAME.json; takes the benchmark lock
#   median V...          the median of the values (odd or even count)
#   row SYS METRIC VAL UNIT   records one result row {"system","metric","value","unit"}
#   ratio A B            A / B with two decimals ("n/a" if B is 0 or missing)
#   mpps PPS, pps_of LOG, stop_gens LOG_PREFIX PID...   generator rates
#   bench_write          writes the recorded rows as a JSON array (called on success)
#
# Only one benchmark (or benchmark-heavy helper) runs at a time on this 2-core VM: every
# script holds an exclusive flock on /tmp/nmbox-bench.lock for its whole run.
# CPU placement is the caller's: CPU_GEN / CPU_APP (defaults 0 / 1) are exported here so that
# every script pins the same way (generator and its NAPI work on CPU_GEN, the system under
# test on CPU_APP).
CPU_GEN=${CPU_GEN:-0}
CPU_APP=${CPU_APP:-1}
RUNS=${RUNS:-3}
_bench_rows=()

bench_init() {
	BENCH_NAME=$1
	BENCH_OUT=$TOP/bench/results/$1.json
	mkdir -p "$TOP/bench/results"
	# The lock is held by a flock process that lives as long as this script, not by an fd of
	# the script: children started later (routers, generators) inherit nothing, so one that
	# outlives a killed script cannot keep the lock (flock -o: the command gets no lock fd).
	flock -n /tmp/nmbox-bench.lock true ||
		echo "bench: waiting for another benchmark to finish (/tmp/nmbox-bench.lock)" >&2
	exec 8< <(exec flock -o /tmp/nmbox-bench.lock sh -c \
		"echo locked; while kill -0 $$ 2>/dev/null; do sleep 0.5; done")
	local l
	read -r l <&8
	[ "$l" = locked ] || { echo "bench: could not take /tmp/nmbox-bench.lock" >&2; exit 1; }
}

mpps() { awk -v v="$1" 'BEGIN { printf "%.3f\n", v / 1e6 }'; } # pps -> Mpps
pps_of() { sed -n 's/.*Speed: \([0-9]*\) pps.*/\1/p' "$1"; } # pkt-gen's final rate, from its log

# stop_gens LOG_PREFIX PID...: stops generators started as LOG_PREFIX1.log, LOG_PREFIX2.log, ...
# (in PID order; not in a subshell: they are this shell's children) and sets GENS_PPS to the
# sum of their final rates; dies if one failed.
stop_gens() {
	local pre=$1 k=0 p o
	shift
	GENS_PPS=0
	for p in "$@"; do
		k=$((k + 1))
		stop_bg "$p" || die "generator failed: $(cat "$pre$k.log")"
		o=$(pps_of "$pre$k.log")
		GENS_PPS=$((GENS_PPS + ${o:-0}))
	done
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "n/a") print "n/a";
		else printf "%.2f\n", a / b }'
}

row() { # system metric value unit
	_bench_rows+=("$(printf '{"system": "%s", "metric": "%s", "value": %s, "unit": "%s"}' \
		"$1" "$2" "$([ "$3" = n/a ] && echo null || echo "$3")" "$4")")
}

bench_write() {
	local i n=${#_bench_rows[@]}
	{
		echo "["
		for i in "${!_bench_rows[@]}"; do
			printf ' %s%s\n' "${_bench_rows[$i]}" "$([ "$i" -lt $((n - 1)) ] && echo ,)"
		done
		echo "]"
	} >"$BENCH_OUT.tmp" && mv "$BENCH_OUT.tmp" "$BENCH_OUT"
	echo "bench: $n rows written to ${BENCH_OUT#"$TOP"/}"
}
