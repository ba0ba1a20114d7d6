#!/usr/bin/env bash
# bench/lpm.sh — nmbox's LPM (lpm/) against DPDK's rte_lpm and rte_lpm6, IPv4 then IPv6.
#
# Runs bin/lpm-bench once per family on the real tables of Debian's python3-pyasn (512,621
# IPv4 prefixes, 27,693 IPv6 prefixes), pinned to CPU_APP: same run, same table, same keys,
# each number the median of RUNS runs (default 3) of build time, memory, Mlookups/s (random
# and in-table keys, single and bulk 64) and updates/s (delete + re-add). lpm-bench prints
# the table with the ratios and whether issue 4's targets are met; it fails if the two
# libraries disagree on any key. Rows {"system","metric","value","unit"} (metrics prefixed
# v4. / v6.) go to bench/results/lpm.json. Takes the global benchmark lock (bench_init).
# Needs dpdk-dev (make bench-deps) for the DPDK side; without it lpm-bench says so and
# this script fails, since the ratios are the result.
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/bench/lib.sh"
bench_init lpm
[ -x "$BIN/lpm-bench" ] || die "$BIN/lpm-bench not built (make bench-deps && make)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for fam in 4 6; do
	taskset -c "$CPU_APP" "$BIN/lpm-bench" --family "$fam" --runs "$RUNS" \
		--json-out "$tmp/v$fam.json" || die "lpm-bench --family $fam failed"
	grep -q '"system": "dpdk"' "$tmp/v$fam.json" || die "no DPDK rows: install dpdk-dev (make bench-deps) and rebuild"
	while IFS=$'\t' read -r sys metric value unit; do
		row "$sys" "$metric" "$value" "$unit"
	done < <($PY -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("\t".join(str(r[k]) for k in ("system", "metric", "value", "unit")))' "$tmp/v$fam.json")
	echo
done
bench_write
