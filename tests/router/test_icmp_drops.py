"""nmrouter ICMP errors and drop counters, through real veths (A - router - B).

TTL/hop limit 1 and unknown destinations must come back to A as ICMP/ICMPv6 errors that
quote the offending packet as received; malformed frames must be dropped, each under its
own reason counter, without reaching B and without hurting the router. Without a host
port the router answers ping to its own addresses itself.
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rtlab  # noqa: E402
from rtlab import MAC, csum_ok, eth  # noqa: E402

ROUTES = [{"dst": "10.82.0.0/16", "gateway": "10.81.2.2"},
          {"dst": "fd82::/32", "gateway": "fd81:2::2"},
          # gateways on B's link that nobody answers for: the hold queue fills, then fails
          {"dst": "10.84.0.0/16", "gateway": "10.81.2.9"},
          {"dst": "fd84::/32", "gateway": "fd81:2::9"},
          # and another pair, for the host unreachable test (its own hold-down)
          {"dst": "10.85.0.0/16", "gateway": "10.81.2.10"},
          {"dst": "fd85::/32", "gateway": "fd81:2::10"}]
NEIGH = [{"dst": "10.81.2.2", "lladdr": MAC["b0"], "dev": "p1"},
         {"dst": "fd81:2::2", "lladdr": MAC["b0"], "dev": "p1"},
         {"dst": "10.81.1.2", "lladdr": MAC["a0"], "dev": "p0"},
         {"dst": "fd81:1::2", "lladdr": MAC["a0"], "dev": "p0"}]


@pytest.fixture(scope="module")
def lab():
    rtlab.need_root()
    lab = rtlab.Lab(host=True, routes=ROUTES, neighbors=NEIGH, with_c=False)
    try:
        # B's port has no host ring: the hosts' start-up multicast (RS, MLD) there is
        # dropped under no_host; the tests that check "no other drop moved" start after it
        _settle(lab)
    except BaseException:
        lab.close()
        raise
    yield lab
    lab.close()


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
    assert csum_ok(icmp_raw)
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
    """An unknown IPv6 destination gets ICMPv6 Destination Unreachable, no route (1/0), from
    fd81:1::1 quoting the packet, counted under no_route."""
    from scapy.all import UDP, IPv6, ICMPv6DestUnreach, in6_chksum
    before = lab.stats()
    la = lab.listen("a", "a0")
    pkt = eth() / IPv6(src="fd81:1::2", dst="fd99::1") / UDP(sport=5556, dport=9)
    sent = bytes(pkt[IPv6])
    lab.send("a", "a0", pkt)
    got = la.wait(lambda p: ICMPv6DestUnreach in p)
    assert got is not None and got[ICMPv6DestUnreach].code == 0
    assert got[IPv6].src == "fd81:1::1" and got[IPv6].dst == "fd81:1::2"
    body = bytes(got[IPv6])[40:40 + got[IPv6].plen]
    assert body[8:] == sent
    assert in6_chksum(58, got[IPv6], body) == 0
    after = lab.stats()
    assert after["drops"]["no_route"] == before["drops"]["no_route"] + 1
    assert after["icmp_sent"] == before["icmp_sent"] + 1


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_icmp_error_to_unresolved_source_held_not_forwarded(lab, fam):
    """TTL 1 from a source the router has no neighbor entry for (A's second address): the
    Time Exceeded waits for ARP/ND in the hold queue, reaches A once resolved, and counts
    as an ICMP error sent (ttl +1, icmp_sent +1), not as a forwarded packet."""
    from scapy.all import ICMP, IP, UDP, ICMPv6TimeExceeded, IPv6
    if fam == "v4":
        me = "10.81.1.77"
        lab.sh("a", "ip", "addr", "replace", f"{me}/24", "dev", "a0")
        pkt = eth() / IP(src=me, dst="10.82.1.1", ttl=1, id=1777) / UDP(sport=1777, dport=9)
        match = (lambda p: ICMP in p and p[ICMP].type == 11 and p[IP].dst == me)
    else:
        me = "fd81:1::77"
        lab.sh("a", "ip", "addr", "replace", f"{me}/64", "dev", "a0", "nodad")
        pkt = eth() / IPv6(src=me, dst="fd82::1", hlim=1) / UDP(sport=1777, dport=9)
        match = (lambda p: ICMPv6TimeExceeded in p and p[IPv6].dst == me)
    try:
        before = lab.stats()
        la = lab.listen("a", "a0")
        lab.send("a", "a0", pkt)
        got = la.wait(match, timeout=5)
        assert got is not None, "Time Exceeded never reached the unresolved source"
        assert got.src == MAC["p0"] and got.dst == MAC["a0"]
        after = lab.stats()
        assert after["drops"]["ttl"] == before["drops"]["ttl"] + 1
        assert after["icmp_sent"] == before["icmp_sent"] + 1
        assert after["arp_nd_sent"] > before["arp_nd_sent"]
        assert after["forwarded"] == before["forwarded"]
    finally:
        lab.sh("a", "ip", "addr", "del", f"{me}/{24 if fam == 'v4' else 64}", "dev", "a0",
               check=False)


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
            assert v == before["drops"][k], f"drops.{k} moved: {before['drops'][k]} -> {v}"
    assert after["forwarded"] == before["forwarded"]
    r = lab.sh("a", "ping", "-c", "1", "-W", "2", "10.81.2.2", check=False)
    assert r.returncode == 0
    assert lb.wait(lambda p: IP in p and p[IP].id == 999, timeout=0.2) is None


def _bad6(kind):
    """Malformed IPv6 frames, as raw bytes (UDP sport 4242 marks them)."""
    from scapy.all import UDP, IPv6, Raw
    ok = eth() / IPv6(src="fd81:1::2", dst="fd82::1") / UDP(sport=4242, dport=9) / Raw(b"z" * 20)
    raw = bytearray(bytes(ok))
    ip = 14
    if kind == "truncated":
        raw = raw[:ip + 30]  # the frame ends inside the 40-byte header
    elif kind == "plen":
        raw[ip + 4:ip + 6] = (len(raw) - ip - 40 + 8).to_bytes(2, "big")
    elif kind == "version":
        raw[ip] = 0x40 | (raw[ip] & 15)
    elif kind == "loopback_src":
        raw[ip + 8:ip + 24] = bytes(15) + b"\1"
    elif kind == "mcast_src":
        raw[ip + 8:ip + 24] = bytes([0xff, 2]) + bytes(13) + b"\1"
    elif kind == "unspec_dst":
        raw[ip + 24:ip + 40] = bytes(16)
    return bytes(raw)


def _no_other_drop(before, after, reason):
    for k, v in after["drops"].items():
        if k != reason:
            assert v == before["drops"][k], f"drops.{k} moved: {before['drops'][k]} -> {v}"


@pytest.mark.parametrize("kind,reason", [
    ("truncated", "bad_len"),        # frame ends inside the IPv6 header
    ("plen", "bad_len"),             # payload length 8 bytes beyond the frame
    ("version", "bad_version"),      # ethertype IPv6, version 4
    ("loopback_src", "martian"),     # source ::1
    ("mcast_src", "martian"),        # multicast source ff02::1
    ("unspec_dst", "martian"),       # destination ::
])
def test_malformed_v6_dropped_and_counted(lab, kind, reason):
    """Each malformed IPv6 frame is dropped under its reason (+1), nothing reaches B, no
    ICMPv6 error goes back, and the router keeps forwarding IPv6."""
    from scapy.all import UDP, IPv6, ICMPv6DestUnreach, ICMPv6ParamProblem
    before = lab.stats()
    lb, la = lab.listen("b", "b0"), lab.listen("a", "a0")
    lab.send("a", "a0", _bad6(kind))
    rtlab.wait_for(5, lambda: lab.stats()["drops"][reason] == before["drops"][reason] + 1,
                   f"drops.{reason} + 1")
    after = lab.stats()
    _no_other_drop(before, after, reason)
    assert after["forwarded"] == before["forwarded"]
    assert after["icmp_sent"] == before["icmp_sent"]
    r = lab.sh("a", "ping", "-6", "-c", "1", "-W", "2", "fd81:2::2", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert lb.wait(lambda p: IPv6 in p and UDP in p and p[UDP].sport == 4242, timeout=0.2) is None
    assert la.wait(lambda p: ICMPv6DestUnreach in p or ICMPv6ParamProblem in p,
                   timeout=0.2) is None


def _pin_router_neighbors(lab):
    """Static entries for the router's addresses in A's and B's kernels, so that they do not
    ARP/NS for it while a test counts the router's own replies."""
    for n, hif, rif, net in (("a", "a0", "p0", 1), ("b", "b0", "p1", 2)):
        for addr in (f"10.81.{net}.1", f"fd81:{net}::1"):
            lab.sh(n, "ip", "neigh", "replace", addr, "lladdr", MAC[rif], "dev", hif, "nud",
                   "permanent")


@pytest.mark.parametrize("n,hif,rif,net", [("a", "a0", "p0", 1),   # the port with a host ring
                                           ("b", "b0", "p1", 2)])  # a port without
def test_router_answers_arp_for_own_address(lab, n, hif, rif, net):
    """A broadcast ARP request for the router's address on a port gets a unicast ARP reply
    from the router itself (not punted): op 2, the port's MAC, the asked address."""
    from scapy.all import ARP, Ether
    _pin_router_neighbors(lab)
    before = lab.stats()
    lst = lab.listen(n, hif)
    # "not punted" is checked on the host ring's TAP itself: the punted counter also moves
    # for the hosts' own background multicast (IPv6 router solicitations, MLD reports)
    tap = lab.listen("r", "nmh-p0") if lab.host and rif == "p0" else None
    me, rtr = f"10.81.{net}.2", f"10.81.{net}.1"
    lab.send(n, hif, Ether(src=MAC[hif], dst="ff:ff:ff:ff:ff:ff") /
             ARP(op=1, hwsrc=MAC[hif], psrc=me, hwdst="00:00:00:00:00:00", pdst=rtr))
    got = lst.wait(lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == rtr)
    assert got is not None, "no ARP reply"
    assert got[Ether].src == MAC[rif] and got[Ether].dst == MAC[hif]
    assert got[ARP].hwsrc == MAC[rif] and got[ARP].psrc == rtr
    assert got[ARP].hwdst == MAC[hif] and got[ARP].pdst == me
    after = lab.stats()
    assert after["local_replies"] == before["local_replies"] + 1
    if tap is not None:
        assert tap.wait(lambda p: ARP in p and p[ARP].pdst == rtr, timeout=0.3) is None, \
            "the ARP request reached the host stack"


@pytest.mark.parametrize("n,hif,rif,net", [("a", "a0", "p0", 1), ("b", "b0", "p1", 2)])
def test_router_answers_ns_for_own_address(lab, n, hif, rif, net):
    """A neighbor solicitation for the router's address (to its solicited-node group) gets
    a neighbor advertisement from the router: Router+Solicited+Override, the asked target,
    the port's MAC as target link-layer address, hop limit 255, valid checksum."""
    from scapy.all import (Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                           ICMPv6NDOptSrcLLAddr, IPv6, in6_chksum)
    _pin_router_neighbors(lab)
    before = lab.stats()
    lst = lab.listen(n, hif)
    me, rtr = f"fd81:{net}::2", f"fd81:{net}::1"
    lab.send(n, hif, Ether(src=MAC[hif], dst="33:33:ff:00:00:01") /
             IPv6(src=me, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=rtr) /
             ICMPv6NDOptSrcLLAddr(lladdr=MAC[hif]))
    got = lst.wait(lambda p: ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == rtr)
    assert got is not None, "no neighbor advertisement"
    assert got[Ether].src == MAC[rif] and got[Ether].dst == MAC[hif]
    assert got[IPv6].src == rtr and got[IPv6].dst == me and got[IPv6].hlim == 255
    na = got[ICMPv6ND_NA]
    assert (na.R, na.S, na.O) == (1, 1, 1)
    assert ICMPv6NDOptDstLLAddr in got and got[ICMPv6NDOptDstLLAddr].lladdr == MAC[rif]
    body = bytes(got[IPv6])[40:40 + got[IPv6].plen]
    assert in6_chksum(58, got[IPv6], body) == 0
    after = lab.stats()
    assert after["local_replies"] == before["local_replies"] + 1


def test_ns_with_hop_limit_below_255_ignored(lab):
    """RFC 4861 7.1.1: an NS whose hop limit is not 255 may come from off-link; the router
    does not answer it and counts it (bad_l2)."""
    from scapy.all import Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
    _pin_router_neighbors(lab)
    before = lab.stats()
    la = lab.listen("a", "a0")
    lab.send("a", "a0", Ether(src=MAC["a0"], dst="33:33:ff:00:00:01") /
             IPv6(src="fd81:1::2", dst="ff02::1:ff00:1", hlim=64) /
             ICMPv6ND_NS(tgt="fd81:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=MAC["a0"]))
    rtlab.wait_for(5, lambda: lab.stats()["drops"]["bad_l2"] == before["drops"]["bad_l2"] + 1,
                   "drops.bad_l2 + 1")
    assert la.wait(lambda p: ICMPv6ND_NA in p, timeout=0.3) is None
    after = lab.stats()
    assert after["local_replies"] == before["local_replies"]


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_hold_queue_overflow_counted(lab, fam):
    """12 packets towards a gateway that never answers: 8 (RT_HOLD_MAX) wait in its hold
    queue, the 4 beyond are dropped under hold_full; after the 3 unanswered probes the 8
    held ones are dropped under no_neigh (each answered with a host unreachable, see
    test_unresolved_gateway_host_unreachable). None reaches B."""
    from scapy.all import ARP, IP, UDP, ICMPv6ND_NS, IPv6
    before = lab.stats()
    lb = lab.listen("b", "b0")
    if fam == "v4":
        pkts = [eth() / IP(src="10.81.1.2", dst="10.84.0.1", id=1300 + i) / UDP(dport=9)
                for i in range(12)]
        probe = (lambda p: ARP in p and p[ARP].op == 1 and p[ARP].pdst == "10.81.2.9")
        data = (lambda p: IP in p and 1300 <= p[IP].id < 1312)
    else:
        pkts = [eth() / IPv6(src="fd81:1::2", dst="fd84::1") / UDP(sport=1300 + i, dport=9)
                for i in range(12)]
        probe = (lambda p: ICMPv6ND_NS in p and p[ICMPv6ND_NS].tgt == "fd81:2::9")
        data = (lambda p: IPv6 in p and UDP in p and 1300 <= p[UDP].sport < 1312)
    lab.send("a", "a0", pkts)
    rtlab.wait_for(5, lambda: lab.stats()["drops"]["hold_full"] ==
                   before["drops"]["hold_full"] + 4, "drops.hold_full + 4")
    seen = lb.collect(lambda p: probe(p) or data(p), 12, timeout=5)
    assert [p for p in seen if data(p)] == []
    assert len([p for p in seen if probe(p)]) == 3  # RT_NEIGH_PROBES
    rtlab.wait_for(5, lambda: lab.stats()["drops"]["no_neigh"] ==
                   before["drops"]["no_neigh"] + 8, "drops.no_neigh + 8")
    after = lab.stats()
    assert after["drops"]["hold_full"] == before["drops"]["hold_full"] + 4
    assert after["forwarded"] == before["forwarded"]


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_unresolved_gateway_host_unreachable(lab, fam):
    """Two packets from A towards a gateway that never answers wait in its hold queue; when
    its 3 probes (1 s apart) have gone unanswered, each comes back to A as ICMP Destination
    Unreachable, host (3/1) / ICMPv6 address unreachable (1/3), from the router's address
    on p0, quoting the packet as A sent it. Counted as no_neigh and icmp_sent; the neighbor
    is listed FAILED."""
    from scapy.all import ICMP, IP, UDP, ICMPv6DestUnreach, IPv6, Raw, in6_chksum
    before = lab.stats()
    la = lab.listen("a", "a0")
    if fam == "v4":
        pkts = [eth() / IP(src="10.81.1.2", dst="10.85.0.1", id=1500 + i) /
                UDP(sport=1500 + i, dport=9) / Raw(b"unreach-me") for i in range(2)]
        match = (lambda p: ICMP in p and p[ICMP].type == 3 and p[IP].dst == "10.81.1.2" and
                 bytes(p[IP])[28 + 16:28 + 20] == bytes([10, 85, 0, 1]))
        gw = "10.81.2.10"
    else:
        pkts = [eth() / IPv6(src="fd81:1::2", dst="fd85::1") / UDP(sport=1500 + i, dport=9) /
                Raw(b"unreach-me") for i in range(2)]
        match = (lambda p: ICMPv6DestUnreach in p and p[IPv6].dst == "fd81:1::2" and
                 bytes(p[IPv6])[48 + 24:48 + 40] == bytes(pkts[0][IPv6])[24:40])
        gw = "fd81:2::10"
    sent = [bytes(p[IPv6 if fam == "v6" else IP]) for p in pkts]
    t0 = time.monotonic()
    lab.send("a", "a0", pkts)
    got = la.collect(match, 2, timeout=8)
    waited = time.monotonic() - t0
    assert len(got) == 2, f"{len(got)} of 2 unreachables came back"
    assert waited > 2.5  # not before the probes ran out
    for g, s in zip(got, sent):
        assert g.src == MAC["p0"] and g.dst == MAC["a0"]
        if fam == "v4":
            assert g[ICMP].code == 1
            assert g[IP].src == "10.81.1.1"
            assert rtlab.ipv4_csum_ok(bytes(g[IP])[:20])
            icmp_raw = bytes(g[IP])[20:g[IP].len]
            assert csum_ok(icmp_raw)
            assert icmp_raw[8:] == s  # as sent: TTL 64, not the decremented copy
        else:
            assert g[ICMPv6DestUnreach].code == 3
            assert g[IPv6].src == "fd81:1::1"
            body = bytes(g[IPv6])[40:40 + g[IPv6].plen]
            assert in6_chksum(58, g[IPv6], body) == 0
            assert body[8:] == s
    after = lab.stats()
    assert after["drops"]["no_neigh"] == before["drops"]["no_neigh"] + 2
    assert after["icmp_sent"] == before["icmp_sent"] + 2
    assert after["forwarded"] == before["forwarded"]
    assert [n["state"] for n in after["neighbors"] if n["dst"] == gw] == ["FAILED"]


def _settle(lab, secs=1.0, limit=15):
    """Stops A's and B's router solicitations and waits until the hosts' own start-up
    chatter (RS, MLD, DAD: multicast that a router without host port drops under no_host)
    leaves the drop counters alone for `secs`, so that a test can count exactly."""
    for n in ("a", "b"):
        lab.sh(n, "sysctl", "-qw", f"net.ipv6.conf.{n}0.router_solicitations=0")
    last, since = lab.stats()["drops"], time.monotonic()
    deadline = since + limit
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = lab.stats()["drops"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= secs:
            return
    raise AssertionError("drop counters never settled")


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
        _settle(lab)
        st = lab.stats()
        assert st["local_replies"] >= 6 and st["punted"] == 0
        lab.send("a", "a0", eth() / IP(src="10.81.1.2", dst="10.81.1.1") / UDP(dport=53))
        rtlab.wait_for(5, lambda: lab.stats()["drops"]["no_host"] == st["drops"]["no_host"] + 1,
                       "drops.no_host + 1")
    finally:
        lab.close()


def test_no_host_port_echo_replies_and_counted_drops():
    """Without a host port: an ICMP echo to either of the router's IPv4 addresses and an
    ICMPv6 echo come back as exact echo replies from the router (id, seq, payload, TTL/hop
    limit 64, valid checksums); a TCP SYN, a UDP datagram, an ICMP timestamp request and an
    IPv6 UDP datagram for its addresses are each dropped under no_host (+1), unanswered."""
    rtlab.need_root()
    from scapy.all import ICMP, IP, TCP, UDP, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw, \
        in6_chksum
    lab = rtlab.Lab(host=False, routes=ROUTES, neighbors=NEIGH, with_c=False)
    try:
        _settle(lab)
        la = lab.listen("a", "a0")
        for dst, ident in (("10.81.1.1", 0x4d01), ("10.81.2.1", 0x4d02)):
            before = lab.stats()
            lab.send("a", "a0", eth() / IP(src="10.81.1.2", dst=dst, ttl=17) /
                     ICMP(type=8, id=ident, seq=7) / Raw(b"echo-payload"))
            got = la.wait(lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == ident)
            assert got is not None, f"no echo reply from {dst}"
            assert got[IP].src == dst and got[IP].dst == "10.81.1.2" and got[IP].ttl == 64
            assert got.src == MAC["p0"] and got.dst == MAC["a0"]
            assert got[ICMP].code == 0 and got[ICMP].seq == 7
            assert bytes(got[ICMP].payload) == b"echo-payload"
            assert rtlab.ipv4_csum_ok(bytes(got[IP])[:20])
            assert csum_ok(bytes(got[IP])[20:got[IP].len])
            after = lab.stats()
            assert after["local_replies"] == before["local_replies"] + 1
            assert after["punted"] == 0
        before = lab.stats()
        lab.send("a", "a0", eth() / IPv6(src="fd81:1::2", dst="fd81:1::1", hlim=9) /
                 ICMPv6EchoRequest(id=0x4d06, seq=9, data=b"six-echo"))
        got = la.wait(lambda p: ICMPv6EchoReply in p and p[ICMPv6EchoReply].id == 0x4d06)
        assert got is not None, "no ICMPv6 echo reply"
        assert got[IPv6].src == "fd81:1::1" and got[IPv6].dst == "fd81:1::2"
        assert got[IPv6].hlim == 64
        assert got[ICMPv6EchoReply].seq == 9 and got[ICMPv6EchoReply].data == b"six-echo"
        body = bytes(got[IPv6])[40:40 + got[IPv6].plen]
        assert in6_chksum(58, got[IPv6], body) == 0
        assert lab.stats()["local_replies"] == before["local_replies"] + 1

        for what, pkt in (
                ("tcp syn", eth() / IP(src="10.81.1.2", dst="10.81.1.1") /
                 TCP(sport=40001, dport=22, flags="S")),
                ("udp", eth() / IP(src="10.81.1.2", dst="10.81.2.1") / UDP(sport=40002, dport=53)),
                ("icmp timestamp", eth() / IP(src="10.81.1.2", dst="10.81.1.1") /
                 ICMP(type=13, id=0x4d13)),
                ("udp6", eth() / IPv6(src="fd81:1::2", dst="fd81:2::1") /
                 UDP(sport=40003, dport=53))):
            before = lab.stats()
            lab.send("a", "a0", pkt)
            rtlab.wait_for(5, lambda: lab.stats()["drops"]["no_host"] ==
                           before["drops"]["no_host"] + 1, f"{what}: drops.no_host + 1")
            after = lab.stats()
            _no_other_drop(before, after, "no_host")
            assert after["local_replies"] == before["local_replies"], what
            assert after["icmp_sent"] == before["icmp_sent"], what
            assert la.wait(lambda p: (IP in p and p[IP].src in ("10.81.1.1", "10.81.2.1")) or
                           (IPv6 in p and p[IPv6].src == "fd81:2::1"), timeout=0.3) is None, what
    finally:
        lab.close()


OUTCOMES = ("forwarded", "punted", "injected", "local_replies", "consumed")


def _unaccounted(before, after):
    """Frames received minus frames with an outcome (every drop reason included)."""
    d = after["rx_packets"] - before["rx_packets"]
    d -= sum(after[k] - before[k] for k in OUTCOMES)
    d -= sum(after["drops"][k] - before["drops"][k] for k in after["drops"])
    return d


def test_every_frame_has_an_outcome(lab):
    """A mixed batch (forwarded, TTL 1, no route, every malformed kind of both families, ARP
    and NS for the router, ping punted to the host stack, an unknown ethertype, a frame for
    another MAC) leaves no frame without an outcome: rx_packets moves by exactly forwarded +
    punted + injected + local_replies + consumed + the sum of all drop reasons."""
    from scapy.all import ARP, IP, UDP, ICMP, Ether, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, \
        Raw
    before = lab.stats()
    assert set(before["drops"]) == {"bad_l2", "bad_version", "bad_ihl", "bad_csum", "bad_len",
                                    "martian", "ttl", "no_route", "no_neigh", "hold_full",
                                    "tx_full", "no_host", "icmp_rate", "no_buf", "other",
                                    "frag_needed", "too_big"}
    frames = [eth() / IP(src="10.81.1.2", dst="10.82.1.1", id=2001) / UDP(dport=9),
              eth() / IPv6(src="fd81:1::2", dst="fd82::1") / UDP(sport=2002, dport=9),
              eth() / IP(src="10.81.1.2", dst="10.82.1.1", ttl=1) / UDP(dport=9),
              eth() / IP(src="10.81.1.2", dst="10.99.0.1") / UDP(dport=9),
              eth() / IP(src="10.81.1.2", dst="10.81.1.1") / ICMP(id=2003),
              Ether(src=MAC["a0"], dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=MAC["a0"], psrc="10.81.1.2", pdst="10.81.1.1"),
              Ether(src=MAC["a0"], dst="33:33:ff:00:00:01") /
              IPv6(src="fd81:1::2", dst="ff02::1:ff00:1", hlim=255) /
              ICMPv6ND_NS(tgt="fd81:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=MAC["a0"]),
              Ether(src=MAC["a0"], dst=MAC["p0"], type=0x88b5) / Raw(b"local experimental"),
              Ether(src=MAC["a0"], dst="02:00:00:00:99:99") / IP(dst="10.82.1.1") / UDP()]
    frames += [Raw(_bad(k)) for k in ("bad_csum", "truncated", "ihl4", "totlen", "version",
                                      "martian")]
    frames += [Raw(_bad6(k)) for k in ("truncated", "plen", "version", "loopback_src",
                                       "mcast_src", "unspec_dst")]
    lab.send("a", "a0", frames)
    rtlab.wait_for(5, lambda: lab.stats()["rx_packets"] - before["rx_packets"] >= len(frames),
                   f"{len(frames)} frames received")
    last = []

    def balanced():
        last[:] = [_unaccounted(before, lab.stats())]
        return last[0] == 0
    try:
        rtlab.wait_for(5, balanced, "every received frame to have an outcome", poll=0.1)
    except AssertionError:
        raise AssertionError(f"{last[0]} received frame(s) have no outcome counter")
