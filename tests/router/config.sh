#!/usr/bin/env bash
# nmrouter configuration errors: each names the key and the reason and exits 2 before any
# interface is touched (the ports below name an interface that does not exist, so an
# error about the interface instead of the key would mean it was opened first).
source "$(dirname "$0")/../lib.sh"
nstest_init
[ -x "$BIN/nmrouter" ] || die "bin/nmrouter not built"
ns_add r

good='{"ports": [{"name": "p0", "spec": "netmap:nosuch0", "addresses": ["10.81.1.1/24"]},
                 {"name": "p1", "spec": "netmap:nosuch1", "addresses": ["10.81.2.1/24", "fd81:2::1/64"]}],
       "routes": [{"dst": "10.82.0.0/16", "gateway": "10.81.2.2"}],
       "neighbors": [{"dst": "10.81.2.2", "lladdr": "02:00:00:00:00:02", "dev": "p1"}]}'

# expect_error NAME JQ-LIKE-PYTHON-EDIT EXPECTED-SUBSTRING
expect_error() {
	local name=$1 edit=$2 want=$3 f=$NSTEST_TMP/$1.json rc
	$PY -c "import json,sys; c=json.loads(sys.argv[1]); $edit; json.dump(c, open(sys.argv[2], 'w'))" \
		"$good" "$f" || die "$name: cannot write config"
	in_ns r "$BIN/nmrouter" -c "$f" >"$NSTEST_TMP/$name.out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || die "$name: exit $rc, want 2: $(cat "$NSTEST_TMP/$name.out")"
	grep -qF -- "$want" "$NSTEST_TMP/$name.out" ||
		die "$name: message lacks '$want': $(cat "$NSTEST_TMP/$name.out")"
	grep -q nosuch "$NSTEST_TMP/$name.out" && die "$name: an interface was opened first"
	echo "ok: $name: $(cat "$NSTEST_TMP/$name.out")"
}

expect_error unknown_key 'c["workerz"]=2' 'workerz: unknown key'
expect_error port_key 'c["ports"][0]["hots"]=True' 'ports[0].hots: unknown key'
expect_error no_ports 'c["ports"]=[]' 'ports: want a non-empty array'
expect_error dup_name 'c["ports"][1]["name"]="p0"' 'ports[1].name: "p0" is also ports[0].name'
expect_error bad_spec 'c["ports"][0]["spec"]="eth0"' 'ports[0].spec'
expect_error bad_addr 'c["ports"][0]["addresses"]=["10.81.1.1/33"]' 'ports[0].addresses[0]'
expect_error overlap 'c["ports"][1]["addresses"]=["10.81.1.9/24"]' 'ports[1].addresses[0]'
expect_error gw_offlink 'c["routes"][0]["gateway"]="10.9.9.9"' 'routes[0]: gateway 10.9.9.9 is not on a connected network'
expect_error host_bits 'c["routes"][0]["dst"]="10.82.0.1/16"' 'routes[0]'
expect_error bad_dev 'c["routes"][0]["dev"]="p7"' 'routes[0]'
expect_error dup_route 'c["routes"].append(dict(c["routes"][0]))' 'routes[1]'
expect_error neigh_mac 'c["neighbors"][0]["lladdr"]="zz"' 'neighbors[0].lladdr'
expect_error neigh_dev 'c["neighbors"][0]["dev"]="p9"' 'neighbors[0]'
expect_error workers 'c["workers"]=0' 'workers: want an integer'
expect_error v6_gw 'c["routes"].append({"dst": "fd82::/32", "gateway": "fd89::2"})' 'routes[1]: gateway fd89::2'
expect_error mtu_low 'c["ports"][0]["mtu"]=67' 'ports[0].mtu: want an integer in 68..9000'
expect_error mtu_high 'c["ports"][0]["mtu"]=9001' 'ports[0].mtu: want an integer in 68..9000'
expect_error mtu_type 'c["ports"][0]["mtu"]="1500"' 'ports[0].mtu: want an integer in 68..9000'
expect_error mtu_v6_addr 'c["ports"][1]["mtu"]=1279' 'ports[1].mtu: 1279 is below 1280, the IPv6 minimum'
expect_error mtu_v6_route 'c["ports"][0]["mtu"]=576; c["routes"].append({"dst": "fd83::/32", "dev": "p0"})' 'routes[1]: dev p0 has mtu 576, below IPv6'"'"'s minimum 1280'

# not JSON at all
echo '{"ports": [' >"$NSTEST_TMP/syntax.json"
in_ns r "$BIN/nmrouter" -c "$NSTEST_TMP/syntax.json" >"$NSTEST_TMP/syntax.out" 2>&1
[ $? -eq 2 ] && grep -q 'syntax.json:' "$NSTEST_TMP/syntax.out" || die "syntax error not reported"

# --check accepts the good one; starting it then fails on the interface (exit 1), by name
echo "$good" >"$NSTEST_TMP/good.json"
in_ns r "$BIN/nmrouter" -c "$NSTEST_TMP/good.json" --check || die "--check rejected a good config"
# the MTU limits themselves are good: 68 on an IPv4-only port, 1280 on one with IPv6, 9000
$PY -c "import json,sys; c=json.loads(sys.argv[1]); c['ports'][0]['mtu']=68; c['ports'][1]['mtu']=1280
json.dump(c, open(sys.argv[2], 'w'))" "$good" "$NSTEST_TMP/mtu.json" || die "cannot write mtu.json"
in_ns r "$BIN/nmrouter" -c "$NSTEST_TMP/mtu.json" --check || die "--check rejected mtu 68 / 1280"
$PY -c "import json,sys; c=json.loads(sys.argv[1]); c['ports'][1]['mtu']=9000
json.dump(c, open(sys.argv[2], 'w'))" "$good" "$NSTEST_TMP/mtu9k.json" || die "cannot write mtu9k.json"
in_ns r "$BIN/nmrouter" -c "$NSTEST_TMP/mtu9k.json" --check || die "--check rejected mtu 9000"
in_ns r "$BIN/nmrouter" -c "$NSTEST_TMP/good.json" >"$NSTEST_TMP/run.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'nosuch0: no such interface' "$NSTEST_TMP/run.out" ||
	die "missing interface: rc=$rc $(cat "$NSTEST_TMP/run.out")"

# the example configuration in etc/ is valid
"$BIN/nmrouter" -c "$TOP/etc/nmrouter.json" --check || die "etc/nmrouter.json rejected"
echo "config: all ok"
