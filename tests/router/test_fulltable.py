"""nmrouter with a real Internet table: 512,621 IPv4 prefixes (pyasn's 2014-05-13 RIB), each
sent to B (p1) or C (p2) by a hash of the prefix. 100,000 UDP datagrams from A to random
addresses inside random prefixes must each leave by the port that a reference longest-prefix
match (a plain Python dict per prefix length, below) predicts, with TTL 63.
"""

import gzip
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rtlab  # noqa: E402
from rtlab import MAC  # noqa: E402

TABLE = "/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz"
NPKT = 100_000
DPORT = 7777
GW = {"p1": "10.81.2.2", "p2": "10.81.3.2"}


def load_table():
    out = []
    with gzip.open(TABLE, "rt") as f:
        for line in f:
            if line.startswith(";") or not line.strip():
                continue
            pfx = line.split("\t", 1)[0]
            out.append((pfx, "p1" if zlib.crc32(pfx.encode()) & 1 else "p2"))
    return out


class RefLpm:
    """Longest-prefix match the slow, obvious way: one dict per prefix length."""

    def __init__(self, table):
        self.by_len = {}
        for pfx, port in table:
            a, n = pfx.split("/")
            n = int(n)
            key = struct.unpack("!I", socket.inet_aton(a))[0]
            self.by_len.setdefault(n, {})[key] = port
        self.lens = sorted(self.by_len, reverse=True)

    def lookup(self, addr):
        for n in self.lens:
            m = (0xffffffff << (32 - n)) & 0xffffffff if n else 0
            p = self.by_len[n].get(addr & m)
            if p is not None:
                return p
        return None


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return 0xffff - s


def frame(dst, idx):
    eth = bytes.fromhex(MAC["p0"].replace(":", "")) + bytes.fromhex(MAC["a0"].replace(":", "")) \
        + b"\x08\x00"
    udp = struct.pack("!HHHH", 40000, DPORT, 8 + 4, 0) + struct.pack("!I", idx)
    ip = struct.pack("!BBHHHBBH4sI", 0x45, 0, 20 + len(udp), idx & 0xffff, 0, 64, 17, 0,
                     socket.inet_aton("10.81.1.2"), dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + udp


class Receiver(threading.Thread):
    """Records (index, ttl) of our datagrams arriving on one interface."""

    def __init__(self, ns, iface):
        super().__init__(daemon=True)
        with rtlab.netns(ns):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
            self.s.bind((iface, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.s.settimeout(0.2)
        self.got = {}
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                b = self.s.recv(2048)
            except socket.timeout:
                continue
            if len(b) >= 14 + 28 + 4 and b[14 + 9] == 17 and \
                    struct.unpack("!H", b[14 + 22:14 + 24])[0] == DPORT:
                self.got[struct.unpack("!I", b[42:46])[0]] = b[14 + 8]


@pytest.fixture(scope="module")
def table():
    if not os.path.exists(TABLE):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{TABLE} missing (python3-pyasn)")
        pytest.skip(f"{TABLE} missing (python3-pyasn)")
    return load_table()


def test_full_table_egress_matches_reference(table):
    """100k datagrams to random covered destinations leave by the predicted port."""
    rtlab.need_root()
    assert len(table) == 512621
    ref = RefLpm(table)
    routes = [{"dst": p, "gateway": GW[port]} for p, port in table]
    neigh = [{"dst": "10.81.2.2", "lladdr": MAC["b0"], "dev": "p1"},
             {"dst": "10.81.3.2", "lladdr": MAC["c0"], "dev": "p2"}]
    t0 = time.monotonic()
    lab = rtlab.Lab(host=False, routes=routes, neighbors=neigh)
    load_s = time.monotonic() - t0
    try:
        rnd = random.Random(20140513)
        dsts, want = [], []
        while len(dsts) < NPKT:
            pfx = table[rnd.randrange(len(table))][0]
            a, n = pfx.split("/")
            base = struct.unpack("!I", socket.inet_aton(a))[0]
            addr = base | (rnd.getrandbits(32 - int(n)) if int(n) < 32 else 0)
            if addr >> 24 in (0, 10, 127) or addr >> 28 >= 0xe:
                continue  # ours, or martian
            dsts.append(addr)
            want.append(ref.lookup(addr))
        rb, rc = Receiver(lab.ns("b"), "b0"), Receiver(lab.ns("c"), "c0")
        rb.start()
        rc.start()
        with rtlab.netns(lab.ns("a")):
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            tx.bind(("a0", 0))
        t1 = time.monotonic()
        # Flow control: never more than `window` datagrams in flight, well under the
        # router's 1024-slot RX ring, so a lost one is the router's fault, not overload.
        window = 256
        try:
            for start in range(0, NPKT, window):
                for i in range(start, min(start + window, NPKT)):
                    tx.send(frame(dsts[i], i))
                end = min(start + window, NPKT)
                rtlab.wait_for(10, lambda: len(rb.got) + len(rc.got) >= end or None,
                               f"deliveries up to {end}", poll=0.001)
        except AssertionError:
            print(f"to B {len(rb.got)}, to C {len(rc.got)}; router: {lab.stats()}")
            raise
        finally:
            send_s = time.monotonic() - t1
            rb.stop = rc.stop = True
            rb.join()
            rc.join()
            tx.close()
        wrong = [i for i in range(NPKT)
                 if (i in rb.got) + (i in rc.got) != 1 or
                 (want[i] == "p1") != (i in rb.got)]
        ttls = set(rb.got.values()) | set(rc.got.values())
        st = lab.stats()
        print(f"table load (config check + load + start) {load_s:.1f}s, {NPKT} packets "
              f"in {send_s:.1f}s; to B {len(rb.got)}, to C {len(rc.got)}; "
              f"forwarded {st['forwarded']}")
        assert not wrong, f"{len(wrong)} packets left by the wrong port, e.g. " + \
            ", ".join(socket.inet_ntoa(struct.pack('!I', dsts[i])) for i in wrong[:5])
        assert ttls == {63}
        assert st["forwarded"] >= NPKT
    finally:
        lab.close()
