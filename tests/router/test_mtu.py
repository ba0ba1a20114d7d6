"""nmrouter and the egress MTU, through real veths (A - router - B, C).

B's link has MTU 1000 on both veth ends and in the router's config (IPv4 only: below 1280 a
link carries no IPv6); C's link has 1280. A (1500) sends with scapy:
  - IPv4 with DF bigger than 1000 towards B: ICMP Fragmentation Needed (3/4) with next-hop
    MTU 1000 back to A (RFC 1191), quoting the datagram as sent; nothing reaches B;
  - IPv4 without DF: fragments (RFC 791) that B's kernel reassembles into the datagram a UDP
    socket in B receives byte for byte;
  - IPv6 bigger than 1280 towards C: ICMPv6 Packet Too Big with MTU 1280 back to A, quoting
    as much as fits in 1280 bytes (RFC 4443); the router never fragments IPv6.
Counters move by exactly the expected amounts. GET /v1/links shows each port's MTU, and the
exported config has "mtu" only where the file set it, and saves back to a file that loads.
"""

import http.client
import json
import os
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rtlab  # noqa: E402
from rtlab import MAC, csum_ok, eth  # noqa: E402

MTU = {"p1": 1000, "p2": 1280}
NEIGH = [{"dst": "10.81.2.2", "lladdr": MAC["b0"], "dev": "p1"},
         {"dst": "10.81.3.2", "lladdr": MAC["c0"], "dev": "p2"},
         {"dst": "fd81:3::2", "lladdr": MAC["c0"], "dev": "p2"},
         {"dst": "10.81.1.2", "lladdr": MAC["a0"], "dev": "p0"},
         {"dst": "fd81:1::2", "lladdr": MAC["a0"], "dev": "p0"}]


@pytest.fixture(scope="module")
def lab():
    rtlab.need_root()
    sock = os.path.join("/tmp", f"nmr-mtu-{os.getpid()}.sock")
    lab = rtlab.Lab(host=True, neighbors=NEIGH, mtu=MTU, extra={"api": {"unix": sock}})
    lab.api_sock = sock
    yield lab
    lab.close()


def udp4(size, df, ident, dport=9):
    """A size-byte IPv4/UDP datagram from A to B with a recognisable payload."""
    from scapy.all import IP, UDP, Raw
    payload = bytes((i * 7 + ident) & 0xff for i in range(size - 28))
    return eth() / IP(src="10.81.1.2", dst="10.81.2.2", id=ident, flags="DF" if df else 0) / \
        UDP(sport=4000 + ident % 1000, dport=dport) / Raw(payload)


def moved(before, after, *keys):
    out = {}
    for k in keys:
        if k in after["drops"]:
            out[k] = after["drops"][k] - before["drops"][k]
        else:
            out[k] = after[k] - before[k]
    return out


def test_df_too_big_gets_frag_needed(lab):
    """1400 bytes with DF towards B (MTU 1000): ICMP 3/4 from 10.81.1.1 back to A with
    next-hop MTU 1000 in the second half of the unused word, quoting 548 bytes of the
    datagram as sent (TTL 64, as received); nothing reaches B; frag_needed +1, icmp_sent +1."""
    from scapy.all import ICMP, IP
    before = lab.stats()
    la, lb = lab.listen("a", "a0"), lab.listen("b", "b0")
    pkt = udp4(1400, True, 101)
    sent = bytes(pkt[IP])
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMP in p and p[ICMP].type == 3 and p[IP].src == "10.81.1.1")
    assert got is not None, "no Fragmentation Needed"
    raw = bytes(got[IP])
    assert got[ICMP].code == 4
    assert got[IP].dst == "10.81.1.2" and got.src == MAC["p0"] and got.dst == MAC["a0"]
    assert rtlab.ipv4_csum_ok(raw[:20]) and len(raw) == got[IP].len == 576
    icmp = raw[20:]
    assert csum_ok(icmp)
    assert icmp[4:6] == b"\0\0" and int.from_bytes(icmp[6:8], "big") == 1000
    assert icmp[8:] == sent[:548]
    assert lb.wait(lambda p: IP in p and p[IP].id == 101, timeout=0.5) is None
    after = lab.stats()
    assert moved(before, after, "frag_needed", "icmp_sent", "forwarded", "fragments",
                 "frag_ok", "too_big") == {"frag_needed": 1, "icmp_sent": 1, "forwarded": 0,
                                           "fragments": 0, "frag_ok": 0, "too_big": 0}


def b_socket(lab, port):
    """A UDP socket in B's namespace on 10.81.2.2:port (so B answers no port unreachable,
    which the router would forward and count)."""
    with rtlab.netns(lab.ns("b")):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("10.81.2.2", port))
    rx.settimeout(5)
    return rx


def send_to_b_socket(lab, size, df, ident, port):
    """A sends udp4(size, df, ident) to a UDP socket of B's on port, a capture on b0 running.
    Returns (the socket, the counters before, the capture, the packet); close the socket."""
    rx = b_socket(lab, port)
    try:
        before = lab.stats()
        lb = lab.listen("b", "b0")
        pkt = udp4(size, df, ident, dport=port)
        lab.send("a", "a0", pkt)
    except BaseException:
        rx.close()
        raise
    return rx, before, lb, pkt


def test_df_that_fits_passes(lab):
    """Exactly 1000 bytes with DF reach B whole, DF kept; forwarded +1, no fragments."""
    from scapy.all import IP, UDP
    rx, before, lb, pkt = send_to_b_socket(lab, 1000, True, 102, 7778)
    try:
        got = lb.wait(lambda p: IP in p and p[IP].id == 102)
        assert got is not None, "the 1000-byte datagram did not reach B"
        assert got[IP].len == 1000 and got[IP].flags.DF and got[IP].frag == 0
        assert rx.recv(4096) == bytes(pkt[UDP].payload)
        after = lab.stats()
        assert moved(before, after, "forwarded", "fragments", "frag_needed") == \
            {"forwarded": 1, "fragments": 0, "frag_needed": 0}
    finally:
        rx.close()


def test_no_df_fragmented_and_reassembled_by_b(lab):
    """1400 bytes without DF towards B: two fragments carrying 976 and 404 bytes of IP data
    (976 a multiple of 8), TTL 63, valid checksums, MF on the first only, offsets 0 and
    122 (x 8 bytes); B's kernel reassembles them and a UDP socket in B receives the whole payload
    byte for byte. forwarded +1, frag_ok +1, fragments +2, no drop."""
    from scapy.all import IP, UDP, defragment
    rx, before, lb, pkt = send_to_b_socket(lab, 1400, False, 103, 7777)
    try:
        data, peer = rx.recvfrom(4096)
        assert data == bytes(pkt[UDP].payload) and len(data) == 1372
        assert peer == ("10.81.1.2", pkt[UDP].sport)
        frags = lb.collect(lambda p: IP in p and p[IP].id == 103, 2, timeout=3)
        assert len(frags) == 2, f"{len(frags)} fragments seen on b0"
        frags.sort(key=lambda p: p[IP].frag)
        for f, (ln, off, mf) in zip(frags, ((996, 0, 1), (424, 122, 0))):
            raw = bytes(f[IP])
            assert (f[IP].len, f[IP].frag, int(f[IP].flags.MF)) == (ln, off, mf)
            assert not f[IP].flags.DF and f[IP].ttl == 63 and rtlab.ipv4_csum_ok(raw[:20])
            assert f.src == MAC["p1"] and f.dst == MAC["b0"]
        whole = defragment(frags)
        assert len(whole) == 1 and bytes(whole[0][IP])[20:] == bytes(pkt[IP])[20:]
        after = lab.stats()
        assert moved(before, after, "forwarded", "frag_ok", "fragments", "frag_needed",
                     "no_buf", "tx_full") == {"forwarded": 1, "frag_ok": 1, "fragments": 2,
                                              "frag_needed": 0, "no_buf": 0, "tx_full": 0}
    finally:
        rx.close()


def test_ipv6_packet_too_big(lab):
    """1400 bytes of IPv6 towards C (MTU 1280): ICMPv6 Packet Too Big (2/0) with MTU 1280 from
    fd81:1::1 back to A, quoting the first 1232 bytes of the packet as sent (the error is
    1280 bytes); nothing reaches C; too_big +1, icmp_sent +1. 1280 bytes pass whole."""
    from scapy.all import UDP, ICMPv6PacketTooBig, IPv6, Raw, in6_chksum
    before = lab.stats()
    la, lc = lab.listen("a", "a0"), lab.listen("c", "c0")
    pkt = eth() / IPv6(src="fd81:1::2", dst="fd81:3::2") / UDP(sport=6001, dport=9) / \
        Raw(bytes(i & 0xff for i in range(1400 - 48)))
    sent = bytes(pkt[IPv6])
    assert len(sent) == 1400
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMPv6PacketTooBig in p)
    assert got is not None, "no Packet Too Big"
    assert got[ICMPv6PacketTooBig].code == 0 and got[ICMPv6PacketTooBig].mtu == 1280
    assert got[IPv6].src == "fd81:1::1" and got[IPv6].dst == "fd81:1::2"
    assert got.src == MAC["p0"] and got.dst == MAC["a0"]
    raw = bytes(got[IPv6])
    assert len(raw) == 40 + got[IPv6].plen == 1280
    body = raw[40:]
    assert in6_chksum(58, got[IPv6], body) == 0
    assert body[8:] == sent[:1232]
    assert lc.wait(lambda p: IPv6 in p and UDP in p and p[UDP].sport == 6001,
                   timeout=0.5) is None
    after = lab.stats()
    assert moved(before, after, "too_big", "icmp_sent", "forwarded", "frag_needed") == \
        {"too_big": 1, "icmp_sent": 1, "forwarded": 0, "frag_needed": 0}
    fits = eth() / IPv6(src="fd81:1::2", dst="fd81:3::2") / UDP(sport=6002, dport=9) / \
        Raw(bytes(1280 - 48))
    lab.send("a", "a0", fits)
    got = lc.wait(lambda p: IPv6 in p and UDP in p and p[UDP].sport == 6002)
    assert got is not None and len(bytes(got[IPv6])) == 1280
    assert lab.stats()["drops"]["too_big"] == after["drops"]["too_big"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path_)


def api(lab, method, path):
    c = UnixHTTP(lab.api_sock)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def test_mtu_shown_exported_and_saved(lab):
    """GET /v1/links shows each port's MTU (p0: its interface's 1500, p1 1000, p2 1280), as
    do the SIGUSR1 dump and the start-up lines; GET /v1/config has "mtu" only on the ports
    whose file entry had it; POST /v1/config/save writes that back and it loads (--check);
    nmh-p0 (the host side of p0) got p0's MTU."""
    st, links = api(lab, "GET", "/v1/links")
    assert st == 200
    assert {l["ifname"]: l["mtu"] for l in links} == {"p0": 1500, "p1": 1000, "p2": 1280}
    assert {l["name"]: l["mtu"] for l in lab.stats()["links"]} == \
        {"p0": 1500, "p1": 1000, "p2": 1280}
    assert "port p1: netmap:p1, mac 02:00:00:00:01:01, mtu 1000," in lab.logtext()
    st, cfg = api(lab, "GET", "/v1/config")
    assert st == 200
    assert [p.get("mtu") for p in cfg["ports"]] == [None, 1000, 1280]
    st, j = api(lab, "POST", "/v1/config/save")
    assert st == 200
    with open(lab.cfg_path) as f:
        saved = json.load(f)
    assert saved == cfg
    r = subprocess.run([rtlab.BIN, "-c", lab.cfg_path, "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    tap = rtlab.run("ip", "-n", lab.ns("r"), "-j", "link", "show", "nmh-p0").stdout
    assert json.loads(tap)[0]["mtu"] == 1500


def test_counters_in_every_view(lab):
    """The new drop reasons and counters are in the SIGUSR1 dump, GET /v1/stats and
    /metrics."""
    st = lab.stats()
    for k in ("frag_needed", "too_big"):
        assert k in st["drops"] and all(k in w["drops"] for w in st["workers"])
    assert "frag_ok" in st and "fragments" in st
    code, s = api(lab, "GET", "/v1/stats")
    assert code == 200
    assert {"frag_needed", "too_big"} <= set(s["total"]["drops"])
    assert {"frag_ok", "fragments"} <= set(s["total"])
    c = UnixHTTP(lab.api_sock)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    assert 'nmbox_drops_total{worker="0",reason="frag_needed"}' in text
    assert 'nmbox_drops_total{worker="0",reason="too_big"}' in text
    assert "# TYPE nmbox_fragments_total counter" in text
    assert "# TYPE nmbox_frag_ok_total counter" in text
