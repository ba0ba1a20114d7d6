"""nmrouter ICMP errors and drop counters, through real veths (A - router - B).

TTL/hop limit 1 and unknown destinations must come back to A as ICMP/ICMPv6 errors that
quote the offending packet as received; malformed frames must be dropped, each under its
own reason counter, without reaching B and without hurting the router. Without a host
port the router answers ping to its own addresses itself.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rtlab  # noqa: E402
from rtlab import MAC  # noqa: E402

ROUTES = [{"dst": "10.82.0.0/16", "gateway": "10.81.2.2"},
          {"dst": "fd82::/32", "gateway": "fd81:2::2"}]
NEIGH = [{"dst": "10.81.2.2", "lladdr": MAC["b0"], "dev": "p1"},
         {"dst": "fd81:2::2", "lladdr": MAC["b0"], "dev": "p1"},
         {"dst": "10.81.1.2", "lladdr": MAC["a0"], "dev": "p0"},
         {"dst": "fd81:1::2", "lladdr": MAC["a0"], "dev": "p0"}]


@pytest.fixture(scope="module")
def lab():
    rtlab.need_root()
    lab = rtlab.Lab(host=True, routes=ROUTES, neighbors=NEIGH, with_c=False)
    yield lab
    lab.close()


def eth():
    from scapy.all import Ether
    return Ether(src=MAC["a0"], dst=MAC["p0"])


def icmp_csum_ok(raw):
    s = 0
    if len(raw) % 2:
        raw += b"\0"
    for i in range(0, len(raw), 2):
        s += (raw[i] << 8) | raw[i + 1]
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def test_ttl1_time_exceeded_with_quote(lab):
    """TTL 1 towards B: ICMP Time Exceeded (11/0) from 10.81.1.1 back to A, quoting the
    datagram as received (header with TTL 1 and the first 8 bytes, here all of it)."""
    from scapy.all import ICMP, IP, UDP, Raw
    before = lab.stats()
    la = lab.listen("a", "a0")
    pkt = eth() / IP(src="10.81.1.2", dst="10.82.1.1", ttl=1, id=777) / \
        UDP(sport=3333, dport=4444) / Raw(b"quote-me")
    sent_ip = bytes(pkt[IP])
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMP in p and p[ICMP].type == 11)
    assert got is not None, "no Time Exceeded"
    assert got[ICMP].code == 0
    assert got[IP].src == "10.81.1.1" and got[IP].dst == "10.81.1.2"
    assert got.src == MAC["p0"] and got.dst == MAC["a0"]
    assert rtlab.ipv4_csum_ok(bytes(got[IP])[:20])
    icmp_raw = bytes(got[IP])[20:got[IP].len]
    assert icmp_csum_ok(icmp_raw)
    quote = icmp_raw[8:]
    assert quote[:28] == sent_ip[:28]  # RFC 792: the IP header + 64 bits
    assert quote == sent_ip  # RFC 1812 4.3.2.3: as much as fits in 576 bytes
    after = lab.stats()
    assert after["drops"]["ttl"] == before["drops"]["ttl"] + 1
    assert after["icmp_sent"] == before["icmp_sent"] + 1


def test_no_route_unreachable(lab):
    """An unknown destination gets ICMP Destination Unreachable, net (3/0), with the quote."""
    from scapy.all import ICMP, IP, UDP
    before = lab.stats()
    la = lab.listen("a", "a0")
    pkt = eth() / IP(src="10.81.1.2", dst="10.99.0.1", id=778) / UDP(sport=3334, dport=4444)
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMP in p and p[ICMP].type == 3)
    assert got is not None, "no Destination Unreachable"
    assert got[ICMP].code == 0
    assert bytes(got[IP])[28:56] == bytes(pkt[IP])[:28]
    assert lab.stats()["drops"]["no_route"] == before["drops"]["no_route"] + 1


def test_hlim1_time_exceeded_v6(lab):
    """IPv6 hop limit 1: ICMPv6 Time Exceeded (3/0) from fd81:1::1, quoting the packet."""
    from scapy.all import UDP, IPv6, ICMPv6TimeExceeded, Raw, in6_chksum
    la = lab.listen("a", "a0")
    pkt = eth() / IPv6(src="fd81:1::2", dst="fd82::1", hlim=1) / UDP(sport=5555, dport=9) / \
        Raw(b"six")
    sent = bytes(pkt[IPv6])
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMPv6TimeExceeded in p)
    assert got is not None, "no ICMPv6 Time Exceeded"
    assert got[ICMPv6TimeExceeded].code == 0
    assert got[IPv6].src == "fd81:1::1" and got[IPv6].dst == "fd81:1::2"
    raw = bytes(got[IPv6])
    body = raw[40:40 + got[IPv6].plen]
    assert body[8:] == sent
    assert in6_chksum(58, got[IPv6], body) == 0


def test_no_route_unreachable_v6(lab):
    """An unknown IPv6 destination gets ICMPv6 Destination Unreachable, no route (1/0)."""
    from scapy.all import UDP, IPv6, ICMPv6DestUnreach
    la = lab.listen("a", "a0")
    pkt = eth() / IPv6(src="fd81:1::2", dst="fd99::1") / UDP(sport=5556, dport=9)
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMPv6DestUnreach in p)
    assert got is not None and got[ICMPv6DestUnreach].code == 0


def _bad(kind):
    """Malformed IPv4 frames, as raw bytes."""
    from scapy.all import IP, UDP, Raw
    ok = eth() / IP(src="10.81.1.2", dst="10.82.1.1", id=999) / UDP(sport=1, dport=9) / \
        Raw(b"z" * 20)
    raw = bytearray(bytes(ok))
    ip = 14

    def fix():
        raw[ip + 10:ip + 12] = b"\0\0"
        s = sum((raw[ip + i] << 8) | raw[ip + i + 1] for i in range(0, (raw[ip] & 15) * 4, 2))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        raw[ip + 10:ip + 12] = (0xffff - s).to_bytes(2, "big")

    if kind == "bad_csum":
        raw[ip + 10] ^= 0x5a
    elif kind == "truncated":
        raw = raw[:14 + 12]
    elif kind == "ihl4":
        raw[ip] = 0x44
        fix()
    elif kind == "totlen":
        raw[ip + 2:ip + 4] = (len(raw) - 14 + 40).to_bytes(2, "big")
        fix()
    elif kind == "version":
        raw[ip] = 0x55
        fix()
    elif kind == "martian":
        raw[ip + 12:ip + 16] = bytes([127, 0, 0, 1])
        fix()
    return bytes(raw)


@pytest.mark.parametrize("kind,reason", [
    ("bad_csum", "bad_csum"),        # header checksum wrong
    ("truncated", "bad_len"),        # frame ends inside the IPv4 header
    ("ihl4", "bad_ihl"),             # IHL < 5
    ("totlen", "bad_len"),           # total length beyond the frame
    ("version", "bad_version"),      # version 5
    ("martian", "martian"),          # loopback source
])
def test_malformed_dropped_and_counted(lab, kind, reason):
    """Each malformed frame is dropped under its reason (+1), nothing reaches B, the
    router keeps forwarding."""
    from scapy.all import IP, Raw
    before = lab.stats()
    lb = lab.listen("b", "b0")
    lab.send("a", "a0", Raw(_bad(kind)))
    rtlab.wait_for(5, lambda: lab.stats()["drops"][reason] == before["drops"][reason] + 1,
                   f"drops.{reason} + 1")
    after = lab.stats()
    for k, v in after["drops"].items():
        if k != reason:
            assert v == before["drops"][k], f"drops.{k} moved"
    assert after["forwarded"] == before["forwarded"]
    r = lab.sh("a", "ping", "-c", "1", "-W", "2", "10.81.2.2", check=False)
    assert r.returncode == 0
    assert lb.wait(lambda p: IP in p and p[IP].id == 999, timeout=0.2) is None


def test_no_host_port_router_answers_ping():
    """Without a host port the router answers ping to its addresses itself and drops
    other traffic for itself under no_host."""
    rtlab.need_root()
    from scapy.all import IP, UDP
    lab = rtlab.Lab(host=False, routes=ROUTES, neighbors=NEIGH, with_c=False)
    try:
        for dst in ("10.81.1.1", "10.81.2.1", "fd81:1::1"):
            r = lab.sh("a", "ping", "-c", "2", "-i", "0.2", "-W", "2", dst, check=False)
            assert r.returncode == 0, r.stdout
        st = lab.stats()
        assert st["local_replies"] >= 6 and st["punted"] == 0
        lab.send("a", "a0", eth() / IP(src="10.81.1.2", dst="10.81.1.1") / UDP(dport=53))
        rtlab.wait_for(5, lambda: lab.stats()["drops"]["no_host"] == st["drops"]["no_host"] + 1,
                       "drops.no_host + 1")
    finally:
        lab.close()
