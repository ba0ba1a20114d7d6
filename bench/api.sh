#!/usr/bin/env bash
# bench/api.sh — how fast a full Internet table goes live through the control API.
#
# One topology: nmrouter in a namespace with two veth ports, the API on a Unix socket.
# Measured, median of 3 runs each:
#   put_full_s     PUT /v1/routes with the 512,621-prefix table (2014 RIB, next hops over
#                  two ports) onto an empty table: from sending the request to the answer,
#                  which comes after the new table is published (all routes live). Target <= 2 s.
#   put_same_s     the same PUT again (nothing changes: parse + diff)
#   put_shift_s    PUT with every next hop moved to the other port (all routes change)
#   parse_ms / apply_ms  the server's split of put_full_s (JSON -> routes, router update)
# Peer, same run: the same 512,621 routes loaded into the Linux kernel with `ip -batch` in a
# namespace (a veth device), and the ratio.
# Rows {"system","metric","value","unit"} go to bench/results/api.json (bench/lib.sh).
# Runs under the global benchmark lock (bench_init). The router runs on CPU_APP, so does
# `ip -batch`; the HTTP client on CPU_GEN.
# Knobs: NMAPI_SERVER=fakert (the dev stand-in instead of bin/nmrouter), RUNS=3.
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/bench/lib.sh"
nstest_init
bench_init api
TABLE=/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz
[ -r "$TABLE" ] || die "$TABLE missing (apt-get install python3-pyasn)"
SERVER=$BIN/nmrouter
SYSTEM=nmrouter
if [ "${NMAPI_SERVER:-}" = fakert ]; then SERVER=$BIN/tests/nmapi-fakert; SYSTEM=nmapi-fakert; fi
[ -x "$SERVER" ] || die "$SERVER not built (make all)"

ns_add r
ns_add a
ns_add b
veth r p1 a h1
veth r p2 b h2
SOCK=$NSTEST_TMP/nmrouter.sock
cat >"$NSTEST_TMP/cfg.json" <<EOF
{"ports": [{"name": "p1", "spec": "netmap:p1", "addresses": ["10.81.1.1/24"]},
           {"name": "p2", "spec": "netmap:p2", "addresses": ["10.81.2.1/24"]}],
 "routes": [], "neighbors": [],
 "api": {"unix": "$SOCK"}}
EOF
bg router in_ns r taskset -c "$CPU_APP" "$SERVER" -c "$NSTEST_TMP/cfg.json"
wait_for 15 test -S "$SOCK" || { cat "$NSTEST_TMP/router.log"; die "API socket did not appear"; }

# The tables: JSON for the API, `ip -batch` lines for the kernel.
$PY - "$TABLE" "$NSTEST_TMP" <<'EOF'
import gzip, json, sys
rows = []
for line in gzip.open(sys.argv[1], "rt"):
    if line.startswith(";") or not line.strip():
        continue
    p, asn = line.split("\t")
    rows.append((p, int(asn) % 2))
def table(shift):
    return [{"dst": p, "gateway": "10.81.1.2" if (o ^ shift) else "10.81.2.2",
             "dev": "p1" if (o ^ shift) else "p2"} for p, o in rows]
open(sys.argv[2] + "/full.json", "w").write(json.dumps(table(0)))
open(sys.argv[2] + "/shift.json", "w").write(json.dumps(table(1)))
with open(sys.argv[2] + "/kernel.batch", "w") as f:
    for p, o in rows:
        f.write(f"route add {p} via {'10.81.1.2' if o else '10.81.2.2'}\n")
print(f"{len(rows)} routes", file=sys.stderr)
EOF

# Times the PUTs over the Unix socket; prints "metric value" lines.
taskset -c "$CPU_GEN" $PY - "$SOCK" "$NSTEST_TMP" "$RUNS" >"$NSTEST_TMP/api.txt" <<'EOF'
import http.client, json, socket, sys, time
sock, tmp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
class U(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=120)
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock)
def put(body):
    c = U()
    c.connect()  # connected before the clock starts
    t0 = time.monotonic()
    c.request("PUT", "/v1/routes", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    t = time.monotonic() - t0
    c.close()
    if r.status != 200:
        sys.exit(f"PUT failed: {r.status} {data[:300]}")
    return t, json.loads(data)
def count():
    c = U()
    c.request("GET", "/v1/routes?protocol=static")
    n = len(json.loads(c.getresponse().read()))
    c.close()
    return n
full = open(tmp + "/full.json", "rb").read()
shift = open(tmp + "/shift.json", "rb").read()
res = {"put_full_s": [], "put_same_s": [], "put_shift_s": [], "parse_ms": [], "apply_ms": []}
for _ in range(runs):
    put(b"[]")
    t, j = put(full)
    assert j["routes"] == 512621 and count() == 512621, "not all routes live"
    res["put_full_s"].append(t)
    res["parse_ms"].append(j["elapsed_ms"]["parse"])
    res["apply_ms"].append(j["elapsed_ms"]["apply"])
    t, j = put(full)
    assert j["adds"] == 0 and j["dels"] == 0
    res["put_same_s"].append(t)
    t, j = put(shift)
    res["put_shift_s"].append(t)
for k, v in res.items():
    print(k, " ".join(f"{x:.6f}" for x in v))
print("body_mb", len(full) / 1e6)
EOF
[ $? -eq 0 ] || die "API benchmark failed: $(tail -5 "$NSTEST_TMP/router.log")"

# Peer: the Linux kernel, same routes, `ip -batch` in a namespace.
ns_add k
ip -n "$NS-k" link add d0 type veth peer name d1 # (no dummy module on every kernel)
ip -n "$NS-k" link set d1 up
ip -n "$NS-k" link set d0 up
ip -n "$NS-k" addr add 10.81.1.1/24 dev d0
ip -n "$NS-k" addr add 10.81.2.1/24 dev d0
kt=()
for _ in $(seq 1 "$RUNS"); do
	ip -n "$NS-k" route flush table main proto boot 2>/dev/null
	t0=$(date +%s.%N)
	taskset -c "$CPU_APP" ip -n "$NS-k" -batch "$NSTEST_TMP/kernel.batch" || die "ip -batch failed"
	t1=$(date +%s.%N)
	kt+=("$($PY -c "print($t1 - $t0)")")
	n=$(ip -n "$NS-k" route show proto boot | wc -l)
	[ "$n" -eq 512621 ] || die "kernel has $n routes, want 512621"
done
kernel_s=$(median "${kt[@]}")

# Medians and rows (bench/lib.sh); every run's value is printed too.
vals() { sed -n "s/^$1 //p" "$NSTEST_TMP/api.txt"; }
r3() { awk -v v="$1" 'BEGIN { printf "%.3f\n", v }'; }
put_full=$(r3 "$(median $(vals put_full_s))")
put_same=$(r3 "$(median $(vals put_same_s))")
put_shift=$(r3 "$(median $(vals put_shift_s))")
parse_ms=$(awk -v v="$(median $(vals parse_ms))" 'BEGIN { printf "%.1f\n", v }')
apply_ms=$(awk -v v="$(median $(vals apply_ms))" 'BEGIN { printf "%.1f\n", v }')
kernel_s=$(r3 "$kernel_s")
speedup=$(ratio "$kernel_s" "$put_full")
row "$SYSTEM" api_put_full_table_512621 "$put_full" s
row "$SYSTEM" api_put_same_table "$put_same" s
row "$SYSTEM" api_put_all_nexthops_changed "$put_shift" s
row "$SYSTEM" api_parse_full_table "$parse_ms" ms
row "$SYSTEM" api_apply_full_table "$apply_ms" ms
row linux-ip-batch load_full_table_512621 "$kernel_s" s
row "$SYSTEM/linux" full_table_load_speedup "$speedup" x

body_mb=$(vals body_mb)
echo "full-table load, 512,621 routes ($(printf '%.1f' "$body_mb") MB JSON), median of $RUNS runs"
printf '%-16s %-32s %10s  %s\n' system metric median "runs"
printf '%-16s %-32s %10s  %s\n' "$SYSTEM" "PUT full table (request->live)" "$put_full s" "$(vals put_full_s | xargs)"
printf '%-16s %-32s %10s  %s\n' "$SYSTEM" "PUT same table (no change)" "$put_same s" "$(vals put_same_s | xargs)"
printf '%-16s %-32s %10s  %s\n' "$SYSTEM" "PUT all next hops changed" "$put_shift s" "$(vals put_shift_s | xargs)"
printf '%-16s %-32s %10s\n' "$SYSTEM" "  of which parse" "$parse_ms ms"
printf '%-16s %-32s %10s\n' "$SYSTEM" "  of which apply" "$apply_ms ms"
printf '%-16s %-32s %10s  %s\n' linux-ip-batch "ip -batch, same routes" "$kernel_s s" "$(printf '%s ' "${kt[@]}")"
echo "ratio: ip -batch / API PUT = ${speedup}x (the API loads the table ${speedup} times as fast)"
if awk -v v="$put_full" 'BEGIN { exit !(v <= 2.0) }'; then
	echo "target: full-table PUT live <= 2 s: MET ($put_full s)"
else
	echo "target: full-table PUT live <= 2 s: MISSED ($put_full s)"
fi
bench_write
