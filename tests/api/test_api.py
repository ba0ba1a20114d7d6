"""API integration tests: the JSON control API and nmctl against a running router.

The router runs in a network namespace this test creates (ports p1/p2 are veth ends whose
peers sit in two more namespaces), with a config written here. It is the real bin/nmrouter;
the development stand-in bin/tests/nmapi-fakert (rt_ctl.h on arrays) is used only when
NMAPI_SERVER=fakert is set by hand. The API listens on a Unix socket in a temporary directory and on
127.0.0.1 inside the router's namespace (reached by creating the socket in that namespace).

Knobs: NMAPI_STRESS_SECS (default 30, as the issue asks) for the 32-client test; NMAPI_SERVER=fakert.
"""

import ctypes
import gzip
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NMCTL = os.path.join(TOP, "bin", "nmctl")
TOKEN = "t0ken-for-tests"
TCP_PORT = 18480
REQUEST_TIMEOUT = 12  # the config's api.request_timeout (timeout, the idle one, is 2); the
# full-table PUT tests upload 33 MB through it, which took over 5 s on a loaded VM
CI = os.environ.get("CI") == "true"
TABLE = "/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz"
# the route the traffic tests send over; every table a test PUTs keeps it unchanged
KEEP = {"dst": "10.200.0.0/16", "gateway": "10.81.2.2", "dev": "p2"}


def cannot_run(why):
    if CI:
        pytest.fail(why)
    pytest.skip(why)


def server_binary():
    server = os.environ.get("NMAPI_SERVER", "nmrouter")
    if server in ("fakert", "fakert-san"):
        return os.path.join(TOP, "bin", "tests", "nmapi-" + server)
    return os.path.join(TOP, "bin", "nmrouter")


FAKE = os.environ.get("NMAPI_SERVER", "nmrouter").startswith("fakert")


# ---------------------------------------------------------------- HTTP clients


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def ns_connect(ns, addr, timeout=10):
    """A TCP socket connected from inside netns ns (setns in a short-lived thread)."""
    out = {}

    def run():
        try:
            fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            out["s"] = socket.create_connection(addr, timeout=timeout)
        except Exception as e:  # reported below
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["s"]


class NsHTTP(http.client.HTTPConnection):
    def __init__(self, ns, port, timeout=30):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.ns = ns

    def connect(self):
        self.sock = ns_connect(self.ns, ("127.0.0.1", self.port), self.timeout)


# ---------------------------------------------------------------- the router under test


class Router:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="nmapi.")
        self.sock = os.path.join(self.tmp, "run", "nmrouter.sock")
        self.cfg_path = os.path.join(self.tmp, "nmrouter.json")
        self.ns = f"nmapi{os.getpid()}"
        self.namespaces = []
        self.proc = None
        self.log = os.path.join(self.tmp, "router.log")

    def sh(self, *cmd):
        subprocess.run(cmd, check=True, capture_output=True)

    def topology(self):
        for suffix in ("r", "a", "b"):
            self.sh("ip", "netns", "add", f"{self.ns}-{suffix}")
            self.namespaces.append(f"{self.ns}-{suffix}")
            self.sh("ip", "-n", f"{self.ns}-{suffix}", "link", "set", "lo", "up")
        for port, peer, host in (("p1", "h1", "a"), ("p2", "h2", "b")):
            self.sh("ip", "link", "add", port, "netns", f"{self.ns}-r", "type", "veth",
                    "peer", "name", peer, "netns", f"{self.ns}-{host}")
            self.sh("ip", "-n", f"{self.ns}-r", "link", "set", port, "up")
            self.sh("ip", "-n", f"{self.ns}-{host}", "link", "set", peer, "up")
        # hosts: h1 10.81.1.2 behind p1, h2 10.81.2.2 (and 10.200.0.1) behind p2; their MACs
        # are the config's static neighbors
        a, b = f"{self.ns}-a", f"{self.ns}-b"
        self.sh("ip", "-n", a, "link", "set", "h1", "address", "02:00:00:00:01:02")
        self.sh("ip", "-n", a, "addr", "add", "10.81.1.2/24", "dev", "h1")
        self.sh("ip", "-n", a, "route", "add", "default", "via", "10.81.1.1")
        # veth leaves UDP checksums to "hardware"; the router forwards frames as they are
        self.sh("ip", "netns", "exec", a, "ethtool", "-K", "h1", "tx", "off")
        self.sh("ip", "-n", b, "link", "set", "h2", "address", "02:00:00:00:00:02")
        self.sh("ip", "-n", b, "addr", "add", "10.81.2.2/24", "dev", "h2")
        self.sh("ip", "-n", b, "addr", "add", "10.200.0.1/32", "dev", "lo")
        self.sh("ip", "-n", b, "route", "add", "default", "via", "10.81.2.1")

    def write_config(self, extra_api=None):
        api = {"unix": self.sock, "mode": "0660", "group": "nogroup",
               "tcp": f"127.0.0.1:{TCP_PORT}", "token": TOKEN, "timeout": 2,
               "request_timeout": REQUEST_TIMEOUT}
        api.update(extra_api or {})
        cfg = {
            "ports": [
                {"name": "p1", "spec": "netmap:p1", "addresses": ["10.81.1.1/24", "fd81:1::1/64"]},
                {"name": "p2", "spec": "netmap:p2", "addresses": ["10.81.2.1/24", "fd81:2::1/64"]},
            ],
            "routes": [
                {"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
                {"dst": "fd82::/32", "gateway": "fd81:2::2", "dev": "p2"},
                {"dst": "10.200.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
            ],
            "neighbors": [{"dst": "10.81.2.2", "lladdr": "02:00:00:00:00:02", "dev": "p2"},
                          {"dst": "10.81.1.2", "lladdr": "02:00:00:00:01:02", "dev": "p1"}],
            "api": api,
        }
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)

    def start(self):
        binary = server_binary()
        if not os.access(binary, os.X_OK):
            cannot_run(f"{binary} not built (make all)")
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", f"{self.ns}-r", binary, "-c", self.cfg_path],
            stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"router exited {self.proc.returncode}: {self.logtail()}")
            try:
                if self.get("/v1/generation")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"API did not come up in 15 s: {self.logtail()}")

    def logtail(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """Stops the router; returns its exit status (None if it was not running)."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                rc = "hung on SIGTERM"
        elif self.proc:
            rc = f"had exited with {self.proc.returncode}"
        self.proc = None
        return rc

    def cleanup(self):
        rc = self.stop()
        log = self.logtail()
        for n in self.namespaces:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc, log

    # -- requests over the Unix socket
    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or UnixHTTP(self.sock)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data, r

    def get(self, path):
        st, data, _ = self.request("GET", path)
        return st, json.loads(data) if data.strip().startswith((b"[", b"{")) else data

    def call(self, method, path, body=None):
        st, data, r = self.request(method, path, body)
        ctype = r.getheader("Content-Type", "")
        return st, (json.loads(data) if "json" in ctype else data)

    def generation(self):
        st, j = self.get("/v1/generation")
        assert st == 200
        return j["generation"]

    def static_routes(self):
        st, j = self.get("/v1/routes?protocol=static")
        assert st == 200
        return sorted(json.dumps(r, sort_keys=True) for r in j)

    def nmctl(self, *args, check=True):
        p = subprocess.run([NMCTL, "-s", self.sock, *args], capture_output=True, text=True,
                           timeout=120)
        if check:
            assert p.returncode == 0, f"nmctl {args}: {p.stderr}"
        return p


# ---------------------------------------------------------------- traffic through the router

SENDER = r"""
import socket, sys, time
dst, pps, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, t0 = 0, time.monotonic()
while True:
    now = time.monotonic()
    if now - t0 >= secs:
        break
    while n < int((now - t0) * pps):
        s.sendto(n.to_bytes(8, "big") + bytes(56), (dst, 9999))
        n += 1
    time.sleep(0.001)
print(n, flush=True)
"""

RECEIVER = r"""
import json, socket, sys, time
secs = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.bind(("0.0.0.0", 9999))
s.settimeout(0.1)
print("ready", flush=True)
seen, buckets, t0 = set(), {}, time.monotonic()
while time.monotonic() - t0 < secs:
    try:
        d = s.recv(2048)
    except socket.timeout:
        continue
    seen.add(int.from_bytes(d[:8], "big"))
    b = int(time.monotonic() - t0)
    buckets[b] = buckets.get(b, 0) + 1
print(json.dumps({"received": len(seen), "per_second": [buckets.get(i, 0) for i in range(int(secs))]}), flush=True)
"""


class Traffic:
    """UDP from h1 (behind p1) to dst behind p2 at pps for secs; counts what arrives."""

    def __init__(self, rt, dst, pps, secs):
        self.rx = subprocess.Popen(["ip", "netns", "exec", f"{rt.ns}-b", "/usr/bin/python3",
                                    "-c", RECEIVER, str(secs + 1.5)],
                                   stdout=subprocess.PIPE, text=True)
        assert self.rx.stdout.readline().strip() == "ready"
        self.tx = subprocess.Popen(["ip", "netns", "exec", f"{rt.ns}-a", "/usr/bin/python3",
                                    "-c", SENDER, dst, str(pps), str(secs)],
                                   stdout=subprocess.PIPE, text=True)

    def result(self):
        sent = int(self.tx.communicate(timeout=120)[0])
        r = json.loads(self.rx.communicate(timeout=120)[0])
        r["sent"] = sent
        return r


def path_works(rt, dst):
    """Bounded wait until a ping from h1 to dst goes through the router."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["ip", "netns", "exec", f"{rt.ns}-a", "ping", "-c1", "-W1", dst],
                          capture_output=True).returncode == 0:
            return True
    return False


@pytest.fixture(scope="module")
def rt():
    if os.geteuid() != 0:
        cannot_run("needs root (network namespaces)")
    r = Router()
    try:
        r.topology()
        r.write_config()
        r.start()
        yield r
    finally:
        rc, log = r.cleanup()
    # a clean exit on SIGTERM: nothing crashed meanwhile (under the -san stand-in: no
    # sanitizer report, no leak)
    assert rc == 0, f"router exit status {rc}: {log}"


def state(rt):
    return rt.generation(), rt.static_routes()


# ---------------------------------------------------------------- resources and methods


def test_socket_mode_and_owner(rt):
    """The Unix socket is srw-rw---- root:nogroup, as configured and documented."""
    st = os.stat(rt.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0
    assert st.st_gid == 65534  # nogroup


def test_api_has_its_own_thread(rt):
    """The API runs in its own thread of the router process (named nmrouter-api), not in
    the main thread or a worker."""
    pid = rt.proc.pid  # ip netns exec execs the router: same pid
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            names[int(tid)] = f.read().strip()
    api = [t for t, n in names.items() if n == "nmrouter-api"]
    assert len(api) == 1, names
    assert api[0] != pid, "the API runs in the main thread"


def test_routes_get_and_filters(rt):
    """GET /v1/routes lists config and connected routes in ip -j route's words; filters work."""
    st, routes = rt.get("/v1/routes")
    assert st == 200
    assert {"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2",
            "protocol": "static"} in routes
    assert any(r["dst"] == "10.81.1.0/24" and r["dev"] == "p1" and r["protocol"] == "kernel"
               for r in routes)
    st, one = rt.get("/v1/routes?dst=10.82.0.0/16")
    assert st == 200 and [r["dst"] for r in one] == ["10.82.0.0/16"]
    st, p1 = rt.get("/v1/routes?dev=p1")
    assert st == 200 and p1 and all(r["dev"] == "p1" for r in p1)
    st, v6 = rt.get("/v1/routes?dst=fd82::/32")
    assert st == 200 and v6[0]["gateway"] == "fd81:2::2"


def test_routes_post_delete(rt):
    """POST one and an array (generation +1 each), DELETE ?dst= removes; 404 when absent."""
    g = rt.generation()
    st, j = rt.call("POST", "/v1/routes", {"dst": "10.90.0.0/16", "gateway": "10.81.1.2",
                                           "dev": "p1"})
    assert st == 200 and j["generation"] == g + 1
    st, j = rt.call("POST", "/v1/routes", [
        {"dst": "10.91.0.0/16", "gateway": "10.81.1.2", "dev": "p1"},
        {"dst": "default", "gateway": "10.81.2.2", "dev": "p2"},
        {"dst": "2001:db8::/32", "gateway": "fd81:1::2", "dev": "p1"},
        {"dst": "192.0.2.7", "dev": "p1"},
    ])
    assert st == 200 and j["generation"] == g + 2
    st, got = rt.get("/v1/routes?dst=default")
    assert [r["dst"] for r in got] == ["default"]
    st, got = rt.get("/v1/routes?dst=192.0.2.7/32")
    assert got and got[0]["dst"] == "192.0.2.7"
    for dst in ("10.90.0.0/16", "10.91.0.0/16", "default", "2001:db8::/32", "192.0.2.7"):
        st, j = rt.call("DELETE", f"/v1/routes?dst={dst}")
        assert st == 200, j
    assert rt.generation() == g + 7
    st, j = rt.call("DELETE", "/v1/routes?dst=10.90.0.0/16")
    assert st == 404 and "error" in j
    assert rt.generation() == g + 7


def test_routes_put_dry_run_and_replace(rt):
    """PUT ?dry_run=1 reports adds/dels and changes nothing; PUT replaces all static routes."""
    before = state(rt)
    table = [{"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
             {"dst": "10.83.0.0/16", "gateway": "10.81.1.2", "dev": "p1"}, KEEP]
    st, j = rt.call("PUT", "/v1/routes?dry_run=1", table)
    assert st == 200 and j["dry_run"] is True
    assert j["adds"] == 1 and j["dels"] == 1  # fd82::/32 would go, 10.83/16 would come
    assert state(rt) == before
    st, j = rt.call("PUT", "/v1/routes", table)
    assert st == 200 and j["generation"] == before[0] + 1
    assert [r["dst"] for r in rt.get("/v1/routes?protocol=static")[1]] != []
    dsts = sorted(r["dst"] for r in rt.get("/v1/routes?protocol=static")[1])
    assert dsts == ["10.200.0.0/16", "10.82.0.0/16", "10.83.0.0/16"]
    # connected routes survive a replace
    assert rt.get("/v1/routes?protocol=kernel")[1]
    # put the config's table back
    st, j = rt.call("PUT", "/v1/routes", [
        {"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
        {"dst": "fd82::/32", "gateway": "fd81:2::2", "dev": "p2"}, KEEP])
    assert st == 200


def test_neigh(rt):
    """GET/POST/DELETE /v1/neigh in ip -j neigh's words."""
    st, n = rt.get("/v1/neigh")
    assert st == 200
    assert {"dst": "10.81.2.2", "dev": "p2", "lladdr": "02:00:00:00:00:02",
            "state": ["PERMANENT"]} in n
    g = rt.generation()
    st, j = rt.call("POST", "/v1/neigh", {"dst": "10.81.1.9", "lladdr": "02:00:00:00:01:09",
                                          "dev": "p1"})
    assert st == 200 and j["generation"] == g + 1
    st, n = rt.get("/v1/neigh?dst=10.81.1.9")
    assert n and n[0]["lladdr"] == "02:00:00:00:01:09" and n[0]["state"] == ["PERMANENT"]
    st, j = rt.call("DELETE", "/v1/neigh?dst=10.81.1.9&dev=p1")
    assert st == 200 and j["generation"] == g + 2
    assert rt.get("/v1/neigh?dst=10.81.1.9")[1] == []
    st, j = rt.call("DELETE", "/v1/neigh?dst=10.81.1.9")
    assert st == 404


def test_links(rt):
    """GET /v1/links: ifname, address, mtu, addr_info and stats64 rx/tx like ip -j -s link."""
    st, links = rt.get("/v1/links")
    assert st == 200
    names = sorted(l["ifname"] for l in links)
    assert names == ["p1", "p2"]
    for l in links:
        assert l["mtu"] > 0 and len(l["address"]) == 17
        for d in ("rx", "tx"):
            assert {"bytes", "packets", "dropped"} <= set(l["stats64"][d])
    p1 = [l for l in links if l["ifname"] == "p1"][0]
    assert {"family": "inet", "local": "10.81.1.1", "prefixlen": 24} in p1["addr_info"]


def test_traffic_forwards(rt):
    """The topology forwards (h1 -> router -> h2) and /v1/stats counts it."""
    if FAKE:
        pytest.skip("the stand-in forwards nothing")
    assert path_works(rt, "10.200.0.1"), rt.logtail()
    before = rt.get("/v1/stats")[1]["total"]["forwarded"]
    tr = Traffic(rt, "10.200.0.1", 1000, 1.0)
    r = tr.result()
    assert r["received"] == r["sent"] > 0, r
    assert rt.get("/v1/stats")[1]["total"]["forwarded"] >= before + r["sent"]


def test_stats_and_metrics(rt):
    """GET /v1/stats has drop reasons per worker and summed; /metrics is Prometheus text."""
    st, s = rt.get("/v1/stats")
    assert st == 200 and s["workers"]
    for key in ("no_route", "ttl", "bad_csum"):
        assert key in s["total"]["drops"]
        assert s["total"]["drops"][key] == sum(w["drops"][key] for w in s["workers"])
    st, data, r = rt.request("GET", "/metrics")
    assert st == 200 and r.getheader("Content-Type").startswith("text/plain")
    text = data.decode()
    assert "# TYPE nmbox_drops_total counter" in text
    assert 'nmbox_drops_total{worker="0",reason="no_route"}' in text
    assert f"nmbox_generation {rt.generation()}" in text
    # the neighbor table: entries now (the fixture's neighbors at least), reclaimed by its GC
    nt = s["neighbor_table"]
    static = [n for n in rt.get("/v1/neigh")[1] if n["state"] == ["PERMANENT"]]
    assert set(nt) == {"entries", "reclaimed"} and nt["entries"] >= len(static) >= 1, nt
    m = re.search(r"^nmbox_neighbors (\d+)$", text, re.M)
    assert m and int(m.group(1)) >= len(static), text[:400]
    assert "# TYPE nmbox_neighbors_reclaimed_total counter" in text
    # the text format: every sample is "name{labels} integer", each family has a TYPE line
    # before its samples, and a family's samples are contiguous (never interleaved)
    typed, done, current = set(), set(), None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            fam = line.split()[2]
            assert fam not in typed, f"second TYPE line for {fam}"
            typed.add(fam)
            continue
        if not line or line.startswith("#"):
            continue
        sample, value = line.rsplit(" ", 1)
        int(value)
        fam = sample.split("{", 1)[0]
        assert fam in typed, f"{fam}: sample before its TYPE line"
        if fam != current:
            assert fam not in done, f"{fam}: samples not contiguous"
            if current:
                done.add(current)
            current = fam
    assert 'nmbox_link_tx_bytes_total{ifname="p2"}' in text


def test_config_export_and_save(rt):
    """GET /v1/config is the file with running routes; save writes it atomically."""
    rt.call("POST", "/v1/routes", {"dst": "10.95.0.0/16", "gateway": "10.81.1.2", "dev": "p1"})
    st, cfg = rt.get("/v1/config")
    assert st == 200
    assert {"dst": "10.95.0.0/16", "gateway": "10.81.1.2", "dev": "p1"} in cfg["routes"]
    assert [p["name"] for p in cfg["ports"]] == ["p1", "p2"]
    ino = os.stat(rt.cfg_path).st_ino
    g = rt.generation()
    st, j = rt.call("POST", "/v1/config/save")
    assert st == 200 and j["generation"] == g and j["path"] == rt.cfg_path
    assert os.stat(rt.cfg_path).st_ino != ino  # replaced by rename, not rewritten in place
    with open(rt.cfg_path) as f:
        saved = json.load(f)
    assert saved == cfg
    assert not [n for n in os.listdir(os.path.dirname(rt.cfg_path)) if ".tmp." in n]
    rt.call("DELETE", "/v1/routes?dst=10.95.0.0/16")


def test_delete_body_counts_each_route_once(rt):
    """DELETE with a body naming a route twice deletes it once and says "deleted": 1."""
    r = {"dst": "10.93.0.0/16", "gateway": "10.81.1.2", "dev": "p1"}
    st, j = rt.call("POST", "/v1/routes", r)
    assert st == 200, j
    g = rt.generation()
    st, j = rt.call("DELETE", "/v1/routes", [r, {"dst": "10.93.0.0/16", "dev": "p1"}])
    assert st == 200 and j == {"generation": g + 1, "deleted": 1}, j
    assert "10.93.0.0/16" not in [x["dst"] for x in rt.get("/v1/routes")[1]]


# ---------------------------------------------------------------- bad input

BAD = [
    # (scenario, method, path, body, status, words in the error)
    ("malformed JSON names line and column", "POST", "/v1/routes",
     '[{"dst": "10.0.0.0/8",\n  "dev": "p1",}]', 400, ["line 2", "column"]),
    ("truncated JSON", "PUT", "/v1/routes", '[{"dst": "10.0.0.0/8"', 400, ["malformed JSON"]),
    ("empty body", "POST", "/v1/routes", "", 400, ["malformed JSON"]),
    ("wrong type", "POST", "/v1/routes", {"dst": "10.0.0.0/8", "dev": 1}, 400,
     ["route.dev", "expected a string"]),
    ("array element wrong type", "PUT", "/v1/routes", ["10.0.0.0/8"], 400,
     ["routes[0]", "expected an object"]),
    ("unknown key", "POST", "/v1/routes", {"dst": "10.0.0.0/8", "via": "10.81.1.2"}, 400,
     ["unknown key", "via"]),
    ("duplicate key", "POST", "/v1/routes", '{"dst":"10.0.0.0/8","dev":"p1","dev":"p2"}', 400,
     ["duplicate"]),
    ("host bits set", "POST", "/v1/routes", {"dst": "10.0.0.1/8", "dev": "p1"}, 400,
     ["host bits", "10.0.0.0/8"]),
    ("host bits in the middle of a big PUT", "PUT", "/v1/routes",
     [{"dst": f"10.{i}.0.0/16", "dev": "p1"} for i in range(200)]
     + [{"dst": "10.200.0.1/16", "dev": "p1"}], 400, ["routes[200]", "host bits"]),
    ("invalid prefix", "POST", "/v1/routes", {"dst": "10.0.0/8", "dev": "p1"}, 400,
     ["not an IP prefix"]),
    ("prefix length too long", "POST", "/v1/routes", {"dst": "10.0.0.0/33", "dev": "p1"}, 400,
     ["33"]),
    ("unknown device", "POST", "/v1/routes", {"dst": "10.0.0.0/8", "dev": "eth9"}, 400,
     ["eth9"]),
    ("unknown device in a PUT", "PUT", "/v1/routes", [{"dst": "10.0.0.0/8", "dev": "eth9"}], 400,
     ["eth9"]),
    ("gateway of the other family", "POST", "/v1/routes",
     {"dst": "10.0.0.0/8", "gateway": "fd81:1::2"}, 400, ["IPv6"]),
    ("route exists", "POST", "/v1/routes", {"dst": "10.82.0.0/16", "dev": "p2"}, 409, []),
    ("duplicate prefix in a PUT", "PUT", "/v1/routes",
     [{"dst": "10.1.0.0/16", "dev": "p1"}, {"dst": "10.1.0.0/16", "dev": "p2"}], 400, []),
    ("duplicate prefix in a POST", "POST", "/v1/routes",
     [{"dst": "10.1.0.0/16", "dev": "p1"}, {"dst": "10.1.0.0/16", "dev": "p2"}], 400,
     ["routes[1]", "10.1.0.0/16", "twice"]),
    ("PUT of a single object", "PUT", "/v1/routes", {"dst": "10.0.0.0/8", "dev": "p1"}, 400,
     ["array"]),
    ("DELETE without dst", "DELETE", "/v1/routes", None, 400, ["dst"]),
    ("DELETE with a bad prefix", "DELETE", "/v1/routes?dst=10.0.0.1/8", None, 400,
     ["host bits"]),
    ("unknown query parameter", "GET", "/v1/routes?foo=1", None, 400, ["foo"]),
    ("GET with DELETE's gateway (not a filter)", "GET", "/v1/routes?gateway=10.81.1.2", None,
     400, ["gateway"]),
    ("DELETE with GET's protocol filter", "DELETE",
     "/v1/routes?dst=10.82.0.0/16&protocol=kernel", None, 400, ["protocol"]),
    ("POST with a query", "POST", "/v1/routes?dst=10.0.0.0/8",
     {"dst": "10.91.0.0/16", "dev": "p1"}, 400, ["dst"]),
    ("neighbor POST with a query", "POST", "/v1/neigh?dev=p2",
     {"dst": "10.81.1.5", "lladdr": "02:00:00:00:00:05", "dev": "p1"}, 400, ["dev"]),
    ("bad dry_run", "PUT", "/v1/routes?dry_run=maybe", [], 400, ["dry_run"]),
    ("DELETE with dst twice", "DELETE", "/v1/routes?dst=10.82.0.0/16&dst=10.200.0.0/16", None,
     400, ["dst", "twice"]),
    ("GET with dst twice", "GET", "/v1/routes?dst=10.82.0.0/16&dst=fd82::/32", None, 400,
     ["dst", "twice"]),
    ("dry_run twice", "PUT", "/v1/routes?dry_run=1&dry_run=0", [KEEP], 400, ["dry_run"]),
    ("NUL in a query value (GET)", "GET", "/v1/routes?dst=10.82.0.0/16%00junk", None, 400,
     ["query"]),
    ("NUL in a query value (DELETE)", "DELETE", "/v1/routes?dst=10.82.0.0/16%00junk", None,
     400, ["query"]),
    ("neighbor with a bad MAC", "POST", "/v1/neigh",
     {"dst": "10.81.1.5", "lladdr": "02:00:00:00:05", "dev": "p1"}, 400, ["lladdr"]),
    ("neighbor on an unknown device", "POST", "/v1/neigh",
     {"dst": "10.81.1.5", "lladdr": "02:00:00:00:00:05", "dev": "eth9"}, 400, ["eth9"]),
    ("neighbor with a dynamic state", "POST", "/v1/neigh",
     {"dst": "10.81.1.5", "lladdr": "02:00:00:00:00:05", "dev": "p1", "state": "STALE"}, 400,
     ["PERMANENT"]),
    ("unsupported method", "PATCH", "/v1/routes", {}, 405, ["not allowed"]),
    ("PUT on neighbors", "PUT", "/v1/neigh", [], 405, ["not allowed"]),
    ("POST on links", "POST", "/v1/links", {}, 405, ["not allowed"]),
    ("DELETE on stats", "DELETE", "/v1/stats", None, 405, ["not allowed"]),
    ("unknown resource", "GET", "/v1/nope", None, 404, ["no such resource"]),
]


@pytest.mark.parametrize("scenario,method,path,body,status,words", BAD,
                         ids=[b[0] for b in BAD])
def test_bad_input(rt, scenario, method, path, body, status, words):
    """Every bad request gets a 4xx with a JSON error naming the problem; nothing changes."""
    before = state(rt)
    st, data, r = rt.request(method, path, body)
    assert st == status, (scenario, st, data)
    assert r.getheader("Content-Type") == "application/json"
    err = json.loads(data)
    assert err["status"] == status and err["error"]
    for w in words:
        assert w in err["error"], (scenario, err)
    if "line 2" in words:
        assert err["line"] == 2 and err["column"] > 0
    assert state(rt) == before, scenario


def test_body_over_limit_413(rt):
    """A body over max_body is refused with 413 before it is read; state unchanged."""
    before = state(rt)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(rt.sock)
    s.sendall(b"PUT /v1/routes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 200000000\r\n\r\n[")
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert state(rt) == before


# ---------------------------------------------------------------- security


def test_tcp_needs_token(rt):
    """TCP on 127.0.0.1 answers 401 without or with a wrong token, 200 with the right one."""
    for headers, want in (({}, 401), ({"Authorization": "Bearer nope"}, 401),
                          ({"Authorization": "Basic " + TOKEN}, 401),
                          ({"Authorization": "Bearer " + TOKEN}, 200)):
        c = NsHTTP(f"{rt.ns}-r", TCP_PORT)
        c.request("GET", "/v1/routes", headers=headers)
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == want, (headers, r.status, body)
        if want == 401:
            assert json.loads(body)["status"] == 401
            assert r.getheader("WWW-Authenticate", "").startswith("Bearer")
    # a write without the token changes nothing
    before = state(rt)
    c = NsHTTP(f"{rt.ns}-r", TCP_PORT)
    c.request("POST", "/v1/routes", body=json.dumps({"dst": "10.96.0.0/16", "dev": "p1"}))
    assert c.getresponse().status == 401
    c.close()
    assert state(rt) == before


def test_tcp_only_on_loopback(rt):
    """The TCP listener is bound to 127.0.0.1 only (not the ports' addresses)."""
    out = subprocess.run(["ip", "netns", "exec", f"{rt.ns}-r", "ss", "-Htln"],
                         capture_output=True, text=True, check=True).stdout
    listening = [l.split()[3] for l in out.splitlines()]
    assert f"127.0.0.1:{TCP_PORT}" in listening, listening
    assert not [a for a in listening if a.endswith(f":{TCP_PORT}") and "127.0.0.1" not in a]


def test_slowloris(rt):
    """Clients trickling headers byte by byte do not stall others; idle ones are dropped."""
    head = b"GET /v1/routes HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
    slow = []
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX)
        s.connect(rt.sock)
        slow.append(s)
    worst = 0.0
    for i in range(30):  # 3 s of trickling, a byte every 0.1 s on every slow connection
        for s in slow:
            s.send(head[i:i + 1])
        t0 = time.monotonic()
        # a stalled server would fail this: the client gives up after 5 s (socket timeout)
        c = UnixHTTP(rt.sock, timeout=5)
        st, _, _ = rt.request("GET", "/v1/generation", conn=c)
        c.close()
        worst = max(worst, time.monotonic() - t0)
        assert st == 200
        time.sleep(0.1)
    print(f"slowest normal request during the trickle: {worst * 1000:.1f} ms")
    # now they stall: the server closes them after its 2 s timeout (bounded wait)
    deadline = time.monotonic() + 8
    for s in slow:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = s.recv(4096)
        except socket.timeout:
            raise AssertionError("a stalled connection was not closed in time")
        except ConnectionResetError:
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:100]
        s.close()
    assert rt.get("/v1/generation")[0] == 200


def test_request_deadline(rt):
    """A client that keeps trickling a request (a byte every 0.5 s, never idle long enough
    for the 2 s inactivity timeout) is closed once request_timeout has passed since it
    connected; connections that finish their requests are not."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(rt.sock)
    keep = UnixHTTP(rt.sock)  # a keep-alive client making quick requests meanwhile
    head = b"GET /v1/routes HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    t0 = time.monotonic()
    closed = False
    for i in range(len(head)):  # bounded: REQUEST_TIMEOUT + 10 s at most
        if time.monotonic() - t0 > REQUEST_TIMEOUT + 10:
            break
        try:
            s.send(head[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        r, _, _ = select.select([s], [], [], 0.5)
        if r:
            try:
                closed = s.recv(4096) == b""
            except ConnectionResetError:
                closed = True
            break
        st, _, _ = rt.request("GET", "/v1/generation", conn=keep)
        assert st == 200
    took = time.monotonic() - t0
    s.close()
    keep.close()
    assert closed, "a trickling request was never cut"
    print(f"trickling client closed after {took:.1f} s (request_timeout {REQUEST_TIMEOUT} s)")


def test_header_flood_cut_at_cap(rt):
    """A client whose headers never end (no blank line) is answered with a 4xx and
    disconnected once it passes the 16 KiB header cap; the server keeps serving."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(rt.sock)
    s.sendall(b"GET /v1/routes HTTP/1.1\r\nHost: x\r\n")
    resp = b""
    try:
        for i in range(2000):  # up to ~64 KiB of headers that never finish
            s.sendall(b"X-Pad-%d: %s\r\n" % (i, b"b" * 24))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed it: what we want
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    except (ConnectionResetError, socket.timeout) as e:
        assert not isinstance(e, socket.timeout), "the server kept the connection open"
    s.close()
    print(f"endless headers answered: {resp[:40]!r}")
    # an answer, not the idle timeout's silent close: the cap is what ended it
    assert resp.startswith(b"HTTP/1.1 4"), resp[:100]
    assert rt.get("/v1/generation")[0] == 200


# ---------------------------------------------------------------- concurrency


def test_32_clients_mixed(rt):
    """32 clients add/delete their own routes, read, and send bad input for a bounded time
    while traffic forwards: the server stays up, the final table is exactly the writes'
    effect, and the forwarded count never drops to 0 in any second."""
    secs = float(os.environ.get("NMAPI_STRESS_SECS", "30"))
    g0 = rt.generation()
    stop = time.monotonic() + secs
    results = [None] * 32

    def client(t):
        rnd = random.Random(t)
        mine = set()
        writes = reads = 0
        conn = UnixHTTP(rt.sock)
        try:
            while time.monotonic() < stop:
                op = rnd.random()
                k = rnd.randrange(64)
                dst = f"10.{100 + t}.{k}.0/24"
                if op < 0.35:
                    body = {"dst": dst, "gateway": "10.81.1.2" if k % 2 else "10.81.2.2",
                            "dev": "p1" if k % 2 else "p2"}
                    st, data, _ = rt.request("POST", "/v1/routes", body, conn=conn)
                    if dst in mine:
                        assert st == 409, data
                    else:
                        assert st == 200, data
                        mine.add(dst)
                        writes += 1
                elif op < 0.6:
                    st, data, _ = rt.request("DELETE", f"/v1/routes?dst={dst}", conn=conn)
                    if dst in mine:
                        assert st == 200, data
                        mine.discard(dst)
                        writes += 1
                    else:
                        assert st == 404, data
                elif op < 0.65:
                    st, data, _ = rt.request("POST", "/v1/routes", '{"dst": "10.0.0.1/8"',
                                             conn=conn)
                    assert st == 400
                else:
                    path = rnd.choice(["/v1/routes?dev=p1", "/v1/stats", "/metrics",
                                       "/v1/neigh", "/v1/links", f"/v1/routes?dst={dst}"])
                    st, data, _ = rt.request("GET", path, conn=conn)
                    assert st == 200
                    reads += 1
        finally:
            conn.close()
        results[t] = (mine, writes, reads)

    tr = None
    if not FAKE:
        assert path_works(rt, "10.200.0.1"), rt.logtail()
        tr = Traffic(rt, "10.200.0.1", 2000, secs)
        stop = time.monotonic() + secs
    threads = [threading.Thread(target=client, args=(t,)) for t in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=secs + 120)
    assert all(r is not None for r in results), "a client failed (see the assertion above)"
    if tr:  # the data plane never stalled and lost nothing while the API was busy
        r = tr.result()
        print(f"traffic during the clients: {r}")
        assert all(n > 0 for n in r["per_second"][:int(secs)]), r
        assert r["received"] == r["sent"], r
    expect = set().union(*(r[0] for r in results))
    writes = sum(r[1] for r in results)
    got = {r["dst"] for r in rt.get("/v1/routes?protocol=static")[1]
           if r["dst"].startswith("10.1") and r["dst"].count(".") == 3
           and 100 <= int(r["dst"].split(".")[1]) < 132}
    assert got == expect
    assert rt.generation() == g0 + writes
    print(f"32 clients, {secs:.0f} s: {writes} writes, {sum(r[2] for r in results)} reads")
    # clean up
    if expect:
        st, _, _ = rt.request("DELETE", "/v1/routes",
                              [{"dst": d, "dev": "p1"} for d in sorted(expect)])
        assert st == 200


# ---------------------------------------------------------------- nmctl


def test_nmctl(rt):
    """nmctl speaks ip's language, prints server errors plainly and exits non-zero on them."""
    rt.nmctl("route", "add", "10.97.0.0/16", "via", "10.81.1.2", "dev", "p1")
    out = rt.nmctl("route", "show").stdout
    assert "10.97.0.0/16 via 10.81.1.2 dev p1 proto static" in out
    assert "10.81.1.0/24 dev p1 proto kernel scope link" in out
    out = rt.nmctl("route", "show", "proto", "kernel", "dev", "p1").stdout
    assert "10.81.1.0/24 dev p1" in out and "10.97.0.0/16" not in out and "p2" not in out
    j = json.loads(rt.nmctl("-j", "route", "show", "dst", "10.97.0.0/16").stdout)
    assert j == [{"dst": "10.97.0.0/16", "gateway": "10.81.1.2", "dev": "p1",
                  "protocol": "static"}]
    p = rt.nmctl("route", "add", "10.97.0.1/16", "dev", "p1", check=False)
    assert p.returncode == 1 and "host bits set" in p.stderr and "HTTP 400" in p.stderr
    p = rt.nmctl("route", "add", "10.98.0.0/16", "dev", "eth9", check=False)
    assert p.returncode == 1 and "eth9" in p.stderr
    rt.nmctl("route", "del", "10.97.0.0/16")
    assert "10.97.0.0/16" not in rt.nmctl("route", "show").stdout
    p = rt.nmctl("route", "del", "10.97.0.0/16", check=False)
    assert p.returncode == 1
    rt.nmctl("neigh", "add", "10.81.1.7", "lladdr", "02:00:00:00:01:07", "dev", "p1")
    assert "10.81.1.7 dev p1 lladdr 02:00:00:00:01:07 PERMANENT" in rt.nmctl("neigh").stdout
    rt.nmctl("neigh", "del", "10.81.1.7", "dev", "p1")
    out = rt.nmctl("link", "-s").stdout
    assert "p1:" in out and "RX:" in out and "link/ether" in out
    out = rt.nmctl("stats").stdout
    assert "total:" in out and re.search(r"^neighbors: \d+ in the table, \d+ reclaimed$", out, re.M)
    assert "nmbox_generation" in rt.nmctl("metrics").stdout
    # replace -f with a dry run first
    f = os.path.join(rt.tmp, "table.json")
    with open(f, "w") as fh:
        json.dump([{"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
                   {"dst": "fd82::/32", "gateway": "fd81:2::2", "dev": "p2"},
                   {"dst": "10.99.0.0/16", "gateway": "10.81.1.2", "dev": "p1"}, KEEP], fh)
    out = rt.nmctl("route", "replace", "-f", f, "--dry-run").stdout
    assert "1 added, 0 removed" in out
    assert "10.99.0.0/16" not in rt.nmctl("route", "show").stdout
    rt.nmctl("route", "replace", "-f", f)
    assert "10.99.0.0/16" in rt.nmctl("route", "show").stdout
    rt.nmctl("route", "del", "10.99.0.0/16")
    # a server that is not there: plain message, non-zero
    p = subprocess.run([NMCTL, "-s", os.path.join(rt.tmp, "nope.sock"), "route"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "nope.sock" in p.stderr
    # TCP with a token, via a socket in the router's namespace
    p = subprocess.run(["ip", "netns", "exec", f"{rt.ns}-r", NMCTL, "-H",
                        f"http://127.0.0.1:{TCP_PORT}", "route"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 1 and "401" in p.stderr
    p = subprocess.run(["ip", "netns", "exec", f"{rt.ns}-r", NMCTL, "-H",
                        f"http://127.0.0.1:{TCP_PORT}", "-T", TOKEN, "route"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "10.82.0.0/16" in p.stdout


def test_nmctl_long_arguments(rt):
    """Arguments too long for the request's query are a usage error (exit 2), not a
    stack overflow in nmctl nor a truncated request; nothing changes."""
    before = state(rt)
    long = "a" * 1018
    for args in (("route", "del", long, "via", "10.81.1.2", "dev", "p1"),
                 ("route", "del", "10.82.0.0/16", "dev", "p2", *["via", "10.81.2.2"] * 150),
                 ("neigh", "del", "10.81.2.2", *["dev", "p2"] * 200)):
        p = rt.nmctl(*args, check=False)
        assert p.returncode == 2 and "too long" in p.stderr, (args[:3], p.returncode, p.stderr)
    assert state(rt) == before


def test_nmctl_refuses_extra_arguments(rt):
    """Words nmctl does not understand are a usage error (exit 2), not silently dropped."""
    before = state(rt)
    for args in (("neigh", "show", "foo"), ("neigh", "show", "dev"),
                 ("neigh", "show", "dev", "p1", "foo"), ("config", "show", "foo"),
                 ("config", "save", "now"), ("route", "show", "gateway", "10.81.1.2"),
                 ("route", "show", "de", "p1"), ("route", "show", "dst dev", "p1"),
                 ("neigh", "show", "proto", "static"), ("route", "show", "", "p1")):
        p = rt.nmctl(*args, check=False)
        assert p.returncode == 2 and "usage" in p.stderr, (args, p.returncode, p.stdout[:200])
    assert state(rt) == before


# ---------------------------------------------------------------- full table, restart


def full_table():
    rows = []
    with gzip.open(TABLE, "rt") as f:
        for line in f:
            if line.startswith(";") or not line.strip():
                continue
            prefix, asn = line.split("\t")
            odd = int(asn) % 2
            rows.append({"dst": prefix, "gateway": "10.81.1.2" if odd else "10.81.2.2",
                         "dev": "p1" if odd else "p2"})
    return rows


def put_under_traffic(rt, routes, what):
    """PUT routes while UDP flows from h1 to 10.200.0.1 (whose route is KEEP, possibly with
    another next hop); asserts every packet of that flow arrived. Returns (answer, seconds)."""
    body = json.dumps(routes).encode()
    tr = None
    if not FAKE:
        assert path_works(rt, "10.200.0.1"), rt.logtail()
        tr = Traffic(rt, "10.200.0.1", 2000, 4.0)
        time.sleep(1.0)  # traffic flowing before the change (the sender paces itself)
    t0 = time.monotonic()
    st, j = rt.call("PUT", "/v1/routes", body)
    took = time.monotonic() - t0
    assert st == 200, j
    if tr:
        r = tr.result()
        print(f"traffic {what}: {r}")
        assert r["received"] == r["sent"] > 0, r
    return j, took


def test_full_table_put(rt):
    """A 512,621-route PUT is one request; afterwards GET lists every route; traffic to a
    destination whose route stays loses nothing meanwhile."""
    if not os.path.exists(TABLE):
        cannot_run(f"{TABLE} missing (python3-pyasn)")
    rows = full_table()
    st, _ = rt.call("PUT", "/v1/routes", [KEEP])
    assert st == 200
    j, took = put_under_traffic(rt, rows + [KEEP], "during the full-table PUT")
    assert j["routes"] == len(rows) + 1 == 512622
    st, routes = rt.get("/v1/routes?protocol=static")
    assert len(routes) == len(rows) + 1
    # no timing assertion here: the 2 s target is measured by bench/api.sh under its lock
    print(f"full-table PUT: {took:.2f} s (parse {j['elapsed_ms']['parse']} ms, "
          f"apply {j['elapsed_ms']['apply']} ms)")


def test_full_table_put_next_hops_change(rt):
    """Every next hop of the full table changes in one PUT (a route changed in place, never
    deleted and re-added): traffic through a route whose next hop changes loses nothing."""
    if not os.path.exists(TABLE):
        cannot_run(f"{TABLE} missing (python3-pyasn)")
    for dst, mac, dev in (("10.81.2.3", "02:00:00:00:00:02", "p2"),
                          ("10.81.1.3", "02:00:00:00:01:02", "p1")):
        st, _ = rt.call("POST", "/v1/neigh", {"dst": dst, "lladdr": mac, "dev": dev})
        assert st == 200
    rows = full_table()
    st, _ = rt.call("PUT", "/v1/routes", rows + [KEEP])  # the state to change from
    assert st == 200
    moved = [dict(r, gateway=r["gateway"][:-1] + "3") for r in rows]
    g = rt.generation()
    j, took = put_under_traffic(rt, moved + [dict(KEEP, gateway="10.81.2.3")],
                                "while every next hop changed")
    assert j["adds"] == j["dels"] == len(rows) + 1 and j["generation"] == g + 1
    st, got = rt.get("/v1/routes?dst=10.200.0.0/16")
    assert st == 200 and got[0]["gateway"] == "10.81.2.3", got
    print(f"full-table PUT, every next hop changed: {took:.2f} s")


def test_restart_keeps_routes(rt):
    """Save, kill -9 the router, start it again from the saved file: same routes."""
    rt.call("PUT", "/v1/routes", [
        {"dst": "10.82.0.0/16", "gateway": "10.81.2.2", "dev": "p2"},
        {"dst": "0.0.0.0/0", "gateway": "10.81.1.2", "dev": "p1"},
        {"dst": "::/0", "gateway": "fd81:1::2", "dev": "p1"},
        {"dst": "192.0.2.9", "dev": "p2"},
        {"dst": "2001:db8:1::/48", "gateway": "fd81:2::2", "dev": "p2"}])
    rt.call("POST", "/v1/neigh", {"dst": "10.81.1.2", "lladdr": "02:00:00:00:01:02",
                                  "dev": "p1"})
    before = rt.get("/v1/routes")[1]
    neigh_before = [n for n in rt.get("/v1/neigh")[1] if n["state"] == ["PERMANENT"]]
    st, j = rt.call("POST", "/v1/config/save")
    assert st == 200
    rt.stop(signal.SIGKILL)
    assert os.path.exists(rt.sock)  # a stale socket, left behind by kill -9
    rt.start()
    after = rt.get("/v1/routes")[1]
    key = lambda r: json.dumps(r, sort_keys=True)
    assert sorted(map(key, after)) == sorted(map(key, before))
    neigh_after = [n for n in rt.get("/v1/neigh")[1] if n["state"] == ["PERMANENT"]]
    assert sorted(map(key, neigh_after)) == sorted(map(key, neigh_before))
