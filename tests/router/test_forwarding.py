"""nmrouter forwarding through real veths: A (p0) - router - B (p1), C (p2), host ring on p0.

Routes: 10.82.0.0/16 via B, 10.82.5.0/24 via C (longer, must win), 10.83.0.0/16 via
10.81.3.3 (C's second address, deliberately unresolved until used); the IPv6 twins
fd82::/32 via B, fd82:0:5::/48 via C, fd83::/32 via fd81:3::3. B's MAC is a static
neighbor; everything else the router resolves itself with ARP/ND.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rtlab  # noqa: E402
from rtlab import MAC  # noqa: E402

ROUTES = [
    {"dst": "10.82.0.0/16", "gateway": "10.81.2.2"},
    {"dst": "10.82.5.0/24", "gateway": "10.81.3.2"},
    {"dst": "10.83.0.0/16", "gateway": "10.81.3.3", "dev": "p2"},
    {"dst": "fd82::/32", "gateway": "fd81:2::2"},
    {"dst": "fd82:0:5::/48", "gateway": "fd81:3::2"},
    {"dst": "fd83::/32", "gateway": "fd81:3::3"},
]
NEIGH = [{"dst": "10.81.2.2", "lladdr": MAC["b0"], "dev": "p1"}]


@pytest.fixture(scope="module")
def lab():
    rtlab.need_root()
    lab = rtlab.Lab(host=True, routes=ROUTES, neighbors=NEIGH)
    lab.sh("c", "ip", "addr", "add", "10.81.3.3/24", "dev", "c0")
    lab.sh("c", "ip", "addr", "add", "fd81:3::3/64", "dev", "c0", "nodad")
    yield lab
    lab.close()


def ping(lab, ns, dst, n=3):
    return lab.sh(ns, "ping", "-c", str(n), "-i", "0.2", "-W", "2", dst, check=False)


def test_ping_across_v4(lab):
    """Ping from A reaches B (static neighbor) and C (resolved by ARP), replies come back."""
    for dst in ("10.81.2.2", "10.81.3.2"):
        r = ping(lab, "a", dst)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ttl=63" in r.stdout


def test_ping_across_v6(lab):
    """Ping6 from A reaches B and C through ND resolution, hop limit 63 on return."""
    for dst in ("fd81:2::2", "fd81:3::2"):
        r = ping(lab, "a", dst)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ttl=63" in r.stdout


def tcp_exchange(lab, srv_ns, addr, port, fam="-4"):
    """One TCP connection from A to a listener at addr:port in srv_ns; a line each way."""
    srv = lab.bg_proc(srv_ns, "sh", "-c", f"echo from-{srv_ns} | nc {fam} -l -N {addr} {port}")
    rtlab.wait_for(5, lambda: f":{port}" in lab.sh(srv_ns, "ss", "-ltn").stdout,
                   f"listener in {srv_ns}")
    r = lab.sh("a", "sh", "-c", f"echo from-a | timeout 5 nc {fam} -N {addr} {port}")
    out, _ = srv.communicate(timeout=10)
    assert r.stdout.strip() == f"from-{srv_ns}"
    assert out.decode().strip() == "from-a"


def test_tcp_across(lab):
    """A TCP connection from A to B carries data both ways through the router."""
    tcp_exchange(lab, "b", "10.81.2.2", 5001)


def test_ttl_decrement_and_checksum(lab):
    """A UDP datagram arrives at B with TTL 64-1, a valid header checksum, MACs rewritten."""
    from scapy.all import IP, UDP, Ether, Raw
    lst = lab.listen("b", "b0")
    pkt = Ether(src=MAC["a0"], dst=MAC["p0"]) / IP(src="10.81.1.2", dst="10.82.7.7", ttl=64,
                                                   id=4242) / UDP(sport=4000, dport=4001) / Raw(b"x" * 30)
    lab.send("a", "a0", pkt)
    got = lst.wait(lambda p: IP in p and p[IP].id == 4242)
    assert got is not None, "datagram not delivered to B"
    assert got[Ether].dst == MAC["b0"] and got[Ether].src == MAC["p1"]
    assert got[IP].ttl == 63
    assert rtlab.ipv4_csum_ok(bytes(got[IP])[:20])
    assert bytes(got[UDP].payload) == b"x" * 30


def test_hlim_decrement_v6(lab):
    """A UDP datagram over IPv6 arrives at B with hop limit 64-1, MACs rewritten, the rest
    of the packet (addresses, flow label, payload, UDP checksum) untouched."""
    from scapy.all import UDP, Ether, IPv6, Raw, in6_chksum
    lst = lab.listen("b", "b0")
    pkt = Ether(src=MAC["a0"], dst=MAC["p0"]) / IPv6(src="fd81:1::2", dst="fd82:0:7::7", hlim=64,
                                                     fl=0x12345) / \
        UDP(sport=4100, dport=4101) / Raw(b"y" * 30)
    sent = bytes(pkt[IPv6])
    lab.send("a", "a0", pkt)
    got = lst.wait(lambda p: IPv6 in p and UDP in p and p[UDP].sport == 4100)
    assert got is not None, "datagram not delivered to B"
    assert got[Ether].dst == MAC["b0"] and got[Ether].src == MAC["p1"]
    assert got[IPv6].hlim == 63
    raw = bytes(got[IPv6])[:40 + got[IPv6].plen]
    assert raw[:7] == sent[:7] and raw[8:] == sent[8:]  # only the hop limit byte differs
    assert in6_chksum(17, got[IPv6], raw[40:]) == 0


def test_tcp_across_v6(lab):
    """A TCP connection from A to B over IPv6 carries data both ways through the router."""
    tcp_exchange(lab, "b", "fd81:2::2", 5003, fam="-6")


def test_longest_prefix_wins(lab):
    """10.82.5.9 (inside the /24) leaves to C, 10.82.6.9 (only the /16) to B; IPv6 alike."""
    from scapy.all import IP, UDP, Ether, IPv6
    lb, lc = lab.listen("b", "b0"), lab.listen("c", "c0")
    e = Ether(src=MAC["a0"], dst=MAC["p0"])
    lab.send("a", "a0", [e / IP(src="10.81.1.2", dst="10.82.5.9", id=501) / UDP(dport=9),
                         e / IP(src="10.81.1.2", dst="10.82.6.9", id=502) / UDP(dport=9),
                         e / IPv6(src="fd81:1::2", dst="fd82:0:5::9") / UDP(sport=503, dport=9),
                         e / IPv6(src="fd81:1::2", dst="fd82:0:6::9") / UDP(sport=504, dport=9)])
    at_c = lc.collect(lambda p: (IP in p and p[IP].id in (501, 502)) or
                      (IPv6 in p and UDP in p and p[UDP].sport in (503, 504)), 2, timeout=4)
    at_b = lb.collect(lambda p: (IP in p and p[IP].id in (501, 502)) or
                      (IPv6 in p and UDP in p and p[UDP].sport in (503, 504)), 2, timeout=2)
    assert sorted(p[IP].id if IP in p else p[UDP].sport for p in at_c) == [501, 503]
    assert sorted(p[IP].id if IP in p else p[UDP].sport for p in at_b) == [502, 504]


def test_unresolved_next_hop_held_then_delivered(lab):
    """First packets to an unresolved gateway wait in the hold queue; ARP goes out p2, the
    reply releases them in order."""
    from scapy.all import ARP, IP, UDP, Ether
    before = lab.stats()
    lc = lab.listen("c", "c0")
    e = Ether(src=MAC["a0"], dst=MAC["p0"])
    lab.send("a", "a0", [e / IP(src="10.81.1.2", dst="10.83.1.1", id=600 + i) / UDP(dport=9)
                         for i in range(3)])
    seen = lc.collect(lambda p: (ARP in p and p[ARP].op == 1 and p[ARP].pdst == "10.81.3.3") or
                      (IP in p and 600 <= p[IP].id < 603), 4, timeout=5)
    arps = [p for p in seen if ARP in p]
    data = [p[IP].id for p in seen if IP in p]
    assert arps and arps[0][Ether].src == MAC["p2"] and arps[0][ARP].psrc == "10.81.3.1"
    assert data == [600, 601, 602]
    after = lab.stats()
    assert after["arp_nd_sent"] > before["arp_nd_sent"]
    assert after["drops"]["hold_full"] == before["drops"]["hold_full"]
    assert {"dst": "10.81.3.3", "lladdr": MAC["c0"], "dev": "p2", "state": "REACHABLE"} \
        in after["neighbors"]


def test_unresolved_next_hop_held_then_delivered_v6(lab):
    """The same over IPv6: an NS to the solicited-node group, then the held packets."""
    from scapy.all import ICMPv6ND_NS, IPv6, UDP, Ether
    lc = lab.listen("c", "c0")
    e = Ether(src=MAC["a0"], dst=MAC["p0"])
    lab.send("a", "a0", [e / IPv6(src="fd81:1::2", dst="fd83::1", hlim=64) /
                         UDP(sport=700 + i, dport=9) for i in range(3)])
    seen = lc.collect(lambda p: (ICMPv6ND_NS in p and p[ICMPv6ND_NS].tgt == "fd81:3::3") or
                      (UDP in p and IPv6 in p and 700 <= p[UDP].sport < 703), 4, timeout=5)
    ns = [p for p in seen if ICMPv6ND_NS in p]
    data = [p for p in seen if UDP in p]
    assert ns and ns[0][Ether].dst == "33:33:ff:00:00:03"
    assert [p[UDP].sport for p in data] == [700, 701, 702]
    assert all(p[IPv6].hlim == 63 for p in data)


def test_ping_router_through_host_stack(lab):
    """Ping to the router's own addresses is answered by the host stack behind nmh-p0: the
    requests are punted, the replies injected; the router answers none itself."""
    before = lab.stats()
    for dst in ("10.81.1.1", "fd81:1::1"):
        r = ping(lab, "a", dst)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ttl=64" in r.stdout
    after = lab.stats()
    assert after["punted"] - before["punted"] >= 6
    assert after["injected"] - before["injected"] >= 6
    assert after["local_replies"] == before["local_replies"] or \
        after["local_replies"] - before["local_replies"] < 6  # only ARP/NS answers


def test_tcp_to_router_through_host_stack(lab):
    """A TCP service on the router's host side (10.81.1.1) is reachable from A."""
    tcp_exchange(lab, "r", "10.81.1.1", 5002)
