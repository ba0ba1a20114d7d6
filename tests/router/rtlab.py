"""rtlab.py - a lab of network namespaces around one nmrouter, for the router's pytest files.

    host A (ns a, a0) --- p0 [nmrouter in ns r] p1 --- (b0, ns b) host B
                                                p2 --- (c0, ns c) host C
    p0 has a host ring (TAP nmh-p0 in ns r) unless host=False.

Addresses: p0 10.81.1.1/24 fd81:1::1/64, p1 10.81.2.1/24 fd81:2::1/64, p2 10.81.3.1/24
fd81:3::1/64; A, B, C are .2 / ::2 on their links with the router as default gateway.
mtu={"p1": 1000, ...} gives a link that MTU on both veth ends and as the router port's "mtu";
a link below 1280 carries no IPv6 (no addresses on either side, as Linux and the config want).
Every namespace, process and file is removed by close(), whatever happened. Waits are
bounded polls. Packets are sent and received with scapy from inside a namespace by
switching the calling thread's network namespace (setns) around socket creation.
"""

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import tempfile
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(TOP, "bin", "nmrouter")
CLONE_NEWNET = 0x40000000

MAC = {"p0": "02:00:00:00:01:00", "p1": "02:00:00:00:01:01", "p2": "02:00:00:00:01:02",
       "a0": "02:00:00:00:0a:01", "b0": "02:00:00:00:00:02", "c0": "02:00:00:00:0c:01"}

_libc = ctypes.CDLL(None, use_errno=True)
_counter = [0]


def need_root():
    """Skips when not root, except in CI where a test that cannot run fails."""
    if os.geteuid() == 0 and os.path.exists(BIN):
        return
    why = "needs root" if os.geteuid() != 0 else f"{BIN} not built"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def run(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


def wait_for(secs, fn, what, poll=0.02):
    """Polls fn() every `poll` seconds until it returns a true value; fails after secs."""
    deadline = time.monotonic() + secs
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {secs}s waiting for {what}")
        time.sleep(poll)


@contextlib.contextmanager
def netns(name):
    """Runs the body with this thread in network namespace `name`."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        yield
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(fd)
        os.close(own)


class Listener:
    """An AF_PACKET socket on iface in a namespace, open before anything is sent."""

    def __init__(self, ns, iface):
        from scapy.all import conf
        with netns(ns):
            self.sock = conf.L2listen(iface=iface)

    def wait(self, pred, timeout=3.0):
        """The first received packet for which pred(pkt) is true, or None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            p = self.sock.recv()
            if p is not None and pred(p):
                return p

    def collect(self, pred, count, timeout=5.0):
        """Up to count matching packets received before timeout."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], min(left, 0.2))
            if r:
                p = self.sock.recv()
                if p is not None and pred(p):
                    out.append(p)
        return out

    def close(self):
        self.sock.close()


class Lab:
    def __init__(self, host=True, routes=None, neighbors=None, extra=None, with_c=True,
                 mtu=None):
        _counter[0] += 1
        self.p = f"nmr{os.getpid() % 100000}x{_counter[0]}"
        self.tmp = tempfile.mkdtemp(prefix="nmrouter-test-")
        self.ns_list = []
        self.proc = None
        self.listeners = []
        self.bg = []
        self.host = host
        self.mtu = dict(mtu or {})
        try:
            self._build(with_c)
            self._start(host, routes, neighbors, extra or {})
        except BaseException:
            self.close()
            raise

    # ---- topology
    def ns(self, n):
        return f"{self.p}-{n}"

    def _build(self, with_c):
        hosts = [("a", "a0", "p0", 1), ("b", "b0", "p1", 2)]
        if with_c:
            hosts.append(("c", "c0", "p2", 3))
        for n in ["r"] + [h[0] for h in hosts]:
            run("ip", "netns", "add", self.ns(n))
            self.ns_list.append(self.ns(n))
            run("ip", "-n", self.ns(n), "link", "set", "lo", "up")
        for n, hif, rif, net in hosts:
            run("ip", "link", "add", hif, "netns", self.ns(n), "type", "veth", "peer", "name",
                rif, "netns", self.ns("r"))
            run("ip", "-n", self.ns(n), "link", "set", hif, "address", MAC[hif])
            run("ip", "-n", self.ns("r"), "link", "set", rif, "address", MAC[rif])
            if rif in self.mtu:
                run("ip", "-n", self.ns("r"), "link", "set", rif, "mtu", str(self.mtu[rif]))
                run("ip", "-n", self.ns(n), "link", "set", hif, "mtu", str(self.mtu[rif]))
            v6 = self.mtu.get(rif, 1500) >= 1280
            # the router's interfaces carry no addresses and no IPv6 of the kernel's own
            # (below 1280 Linux has no IPv6 on a link at all)
            if v6:
                run("ip", "netns", "exec", self.ns("r"), "sysctl", "-qw",
                    f"net.ipv6.conf.{rif}.disable_ipv6=1")
            run("ip", "-n", self.ns("r"), "link", "set", rif, "up")
            run("ip", "-n", self.ns(n), "link", "set", hif, "up")
            # veth leaves TCP/UDP checksums to "hardware" (CHECKSUM_PARTIAL); frames that
            # cross AF_XDP reach userspace without them, so the hosts compute their own
            run("ip", "netns", "exec", self.ns(n), "ethtool", "-K", hif, "tx", "off")
            run("ip", "-n", self.ns(n), "addr", "add", f"10.81.{net}.2/24", "dev", hif)
            run("ip", "-n", self.ns(n), "route", "add", "default", "via", f"10.81.{net}.1")
            if v6:
                run("ip", "-n", self.ns(n), "addr", "add", f"fd81:{net}::2/64", "dev", hif,
                    "nodad")
                run("ip", "-n", self.ns(n), "-6", "route", "add", "default", "via",
                    f"fd81:{net}::1")
        self.ports = [h[2] for h in hosts]

    def _start(self, host, routes, neighbors, extra):
        ports = []
        for i, rif in enumerate(self.ports):
            ports.append({"name": rif, "spec": f"netmap:{rif}",
                          "addresses": [f"10.81.{i + 1}.1/24", f"fd81:{i + 1}::1/64"]})
            if rif in self.mtu:
                ports[-1]["mtu"] = self.mtu[rif]
                if self.mtu[rif] < 1280:
                    ports[-1]["addresses"].pop()
        if host:
            ports[0]["host"] = True
        cfg = {"ports": ports, "routes": routes or [], "neighbors": neighbors or [],
               "workers": 1}
        cfg.update(extra)
        self.cfg_path = os.path.join(self.tmp, "nmrouter.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.stats_path = os.path.join(self.tmp, "stats.json")
        self.log_path = os.path.join(self.tmp, "nmrouter.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns("r"), BIN, "-c", self.cfg_path, "-s",
             self.stats_path], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(30, lambda: "ready:" in self.logtext() or self.proc.poll() is not None,
                 "nmrouter ready")
        assert self.proc.poll() is None, f"nmrouter exited:\n{self.logtext()}"
        if host:
            wait_for(10, lambda: "10.81.1.1/24" in run(
                "ip", "-n", self.ns("r"), "addr", "show", "nmh-p0", check=False).stdout,
                "host-side address on nmh-p0")

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def sh(self, n, *cmd, check=True, timeout=30):
        return run("ip", "netns", "exec", self.ns(n), *cmd, check=check, timeout=timeout)

    def bg_proc(self, n, *cmd):
        pr = subprocess.Popen(["ip", "netns", "exec", self.ns(n), *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.bg.append(pr)
        return pr

    def listen(self, n, iface):
        lst = Listener(self.ns(n), iface)
        self.listeners.append(lst)
        return lst

    def send(self, n, iface, pkts):
        from scapy.all import sendp
        with netns(self.ns(n)):
            sendp(pkts, iface=iface, verbose=0)

    # ---- counters
    def stats(self):
        """Asks the router for its counters (SIGUSR1) and returns them as a dict."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.stats_path)
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(5, lambda: os.path.exists(self.stats_path), "stats dump")
        with open(self.stats_path) as f:
            return json.load(f)

    def close(self):
        for lst in self.listeners:
            with contextlib.suppress(Exception):
                lst.close()
        for pr in self.bg:
            with contextlib.suppress(Exception):
                pr.kill()
                pr.wait(timeout=5)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        for n in self.ns_list:
            run("ip", "netns", "del", n, check=False)
        run("rm", "-rf", self.tmp, check=False)


def csum_ok(raw):
    """True if the Internet checksum (RFC 1071) over raw verifies (an ICMP message)."""
    if len(raw) % 2:
        raw += b"\0"
    s = sum((raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def ipv4_csum_ok(ip_bytes):
    """True if an IPv4 header's checksum verifies."""
    return csum_ok(bytes(ip_bytes[:(ip_bytes[0] & 15) * 4]))


def eth():
    """The Ethernet header (scapy) of a frame from host A to the router's p0."""
    from scapy.all import Ether
    return Ether(src=MAC["a0"], dst=MAC["p0"])
