"""nmbridge between two hosts in namespaces: ARP + ping both ways, a 50 MB TCP transfer
arrives intact, scapy frames of every kind arrive byte for byte exactly once, a run of
over 1M packets each way keeps the buffer audit and never copies, and the host-stack
bridge (one -i) reaches an address on the host side.

    h1 (e1, 10.50.0.1) ==veth== (p1) [nmbridge] (p2) ==veth== (e2, 10.50.0.2) h2
"""
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nslab import BIN, PY, TOP, Lab, log_has, wait_for  # noqa: E402

L2IO = os.path.join(TOP, "tests", "l2io.py")


def wire_h1_br_h2(lb):
    """Namespaces h1, br and h2, wired h1:e1 - br:p1 and h2:e2 - br:p2."""
    for n in ("h1", "br", "h2"):
        lb.ns(n)
    lb.veth("h1", "e1", "br", "p1")
    lb.veth("h2", "e2", "br", "p2")


def start_bridge(lb, specs, log):
    """Starts nmbridge in namespace br on the ports of specs (one -i each) and waits (10 s)
    for its start line, "nmbridge: A <-> B" (B is A's host rings with one port); fails with
    its log if it exits instead."""
    cmd = [f"{BIN}/nmbridge"]
    for s in specs:
        cmd += ["-i", s]
    br = lb.start("br", cmd, log)
    other = specs[1] if len(specs) > 1 else specs[0] + "^"
    wait_for(lambda: log_has(log, f"nmbridge: {specs[0]} <-> {other}") or br.poll() is not None,
             10, "nmbridge start")
    assert br.poll() is None, open(log).read()
    return br


@pytest.fixture(scope="module")
def lab():
    tmp = tempfile.mkdtemp(prefix="nmbridge-")
    lb = Lab("nmb")
    try:
        wire_h1_br_h2(lb)
        lb.run("h1", ["ip", "addr", "add", "10.50.0.1/24", "dev", "e1"])
        lb.run("h2", ["ip", "addr", "add", "10.50.0.2/24", "dev", "e2"])
        lb.bridge = start_bridge(lb, ["netmap:p1", "netmap:p2"], os.path.join(tmp, "bridge.log"))
        lb.tmp = tmp
        yield lb
    finally:
        lb.close()


def mac(lb, ns, ifname):
    return lb.run(ns, ["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()


def test_starts_zero_copy_on_af_xdp(lab):
    text = open(lab.bridge.log).read()
    assert text.count("AF_XDP") == 2, text
    assert "zero copy (buffer swap)" in text, text


def test_ping_both_ways(lab):
    lab.run("h1", ["ip", "neigh", "flush", "all"])
    lab.run("h2", ["ip", "neigh", "flush", "all"])
    r = lab.run("h1", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.50.0.2"])
    assert " 0% packet loss" in r.stdout, r.stdout
    r = lab.run("h2", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.50.0.1"])
    assert " 0% packet loss" in r.stdout, r.stdout


def test_tcp_50mb_intact(lab):
    data = os.path.join(lab.tmp, "data.bin")
    got = os.path.join(lab.tmp, "got.bin")
    with open(data, "wb") as f:
        f.write(random.Random(7).randbytes(50 * 1000 * 1000))
    srv = lab.start("h2", ["sh", "-c", f"exec nc -l -p 5001 -N > {got}"],
                    os.path.join(lab.tmp, "nc-srv.log"))
    wait_for(lambda: "5001" in lab.run("h2", ["ss", "-ltn"]).stdout, 10, "nc listening")
    lab.run("h1", ["sh", "-c", f"nc -N -w 10 10.50.0.2 5001 < {data}"], timeout=60)
    srv.wait(30)
    h = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()  # noqa: E731
    assert os.path.getsize(got) == os.path.getsize(data)
    assert h(got) == h(data)


def frames_for(src_mac, dst_mac, n_random=60):
    """Frames of every kind, each unique by a marker in its payload."""
    from scapy.all import IP, UDP, Dot1Q, Ether, IPv6, Raw  # noqa: E402
    rnd = random.Random(11)
    out = []
    for i in range(n_random):
        size = rnd.randint(60, 1514)
        pay = bytes(f"nmbox-{i:05d}-", "ascii")
        base = Ether(src=src_mac, dst=dst_mac) / IP(src="10.50.0.9", dst="10.50.0.8") / UDP(
            sport=9, dport=9)
        fill = size - len(base) - len(pay)
        out.append(bytes(base / Raw(pay + bytes(rnd.getrandbits(8) for _ in range(fill)))))
    out.append(bytes(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff", type=0x88b5) /
                     Raw(b"nmbox-bcast-" + bytes(100))))
    out.append(bytes(Ether(src=src_mac, dst="01:00:5e:01:02:03") / IP(dst="239.1.2.3") /
                     UDP() / Raw(b"nmbox-mcast-" + bytes(40))))
    out.append(bytes(Ether(src=src_mac, dst=dst_mac) / Dot1Q(vlan=42) / IP() / UDP() /
                     Raw(b"nmbox-vlan-" + bytes(200))))
    out.append(bytes(Ether(src=src_mac, dst=dst_mac) / IPv6(src="fd50::9", dst="fd50::8") /
                     UDP() / Raw(b"nmbox-ipv6-" + bytes(300))))
    out.append(bytes(Ether(src=src_mac, dst=dst_mac, type=0x88b6) / Raw(b"nmbox-nonip-" +
                                                                         bytes(1000))))
    out.append(bytes(Ether(src=src_mac, dst=dst_mac) / IP() / UDP() / Raw(b"nmbox-max-" +
                                                                         bytes(1514 - 52))))
    return out


@pytest.mark.parametrize("src,dst", [("h1", "h2"), ("h2", "h1")])
def test_frames_byte_for_byte(lab, src, dst):
    sif, dif = {"h1": "e1", "h2": "e2"}[src], {"h1": "e1", "h2": "e2"}[dst]
    frames = frames_for("02:aa:00:00:00:01", mac(lab, dst, dif))
    fin = os.path.join(lab.tmp, f"frames-{src}.json")
    fout = os.path.join(lab.tmp, f"got-{dst}.json")
    json.dump([f.hex() for f in frames], open(fin, "w"))
    snf = lab.start(dst, [PY, L2IO, "sniff", dif, fout, "15", str(len(frames)),
                               "02:aa:00:00:00:01"],
                    os.path.join(lab.tmp, f"sniff-{dst}.log"))
    wait_for(lambda: log_has(snf.log, "ready"), 15, "sniffer ready")
    lab.run(src, [PY, L2IO, "send", sif, fin])
    snf.wait(30)
    got = [bytes.fromhex(h) for h in json.load(open(fout))]
    ours = [g for g in got if g[6:12] == bytes.fromhex("02aa00000001")]
    for f in frames:
        n = ours.count(f)
        assert n == 1, f"frame of {len(f)} bytes ({f[12:14].hex()}) arrived {n} times"
    assert len(ours) == len(frames)


def bridge_totals(lab):
    """Asks the bridge for its totals (SIGUSR1) and returns (A->B, B->A)."""
    n = open(lab.bridge.log).read().count("totals:")
    lab.bridge.send_signal(signal.SIGUSR1)
    wait_for(lambda: open(lab.bridge.log).read().count("totals:") > n, 5, "totals line")
    m = re.findall(r"totals: A->B (\d+) packets, B->A (\d+) packets", open(lab.bridge.log).read())
    return int(m[-1][0]), int(m[-1][1])


def test_million_packets_both_ways_zero_copy(lab):
    """XDP live-frame generators on both hosts at once until the bridge has forwarded over
    1M packets each way; it copies nothing and its buffer audit holds at exit."""
    gens = []
    for ns, ifn in (("h1", "e1"), ("h2", "e2")):
        gens.append(lab.start(ns, [f"{BIN}/pkt-gen", "-i", f"netmap:{ifn}", "-f", "live",
                                   "-t", "60", "-T", "0"],
                              os.path.join(lab.tmp, f"gen-{ns}.log")))
    try:
        wait_for(lambda: min(bridge_totals(lab)) >= 1_000_000, 60, "1M packets each way")
    finally:
        for g in gens:
            rc, text = lab.stop(g)
            assert rc == 0, text
    rc, text = lab.stop(lab.bridge)
    assert rc == 0, text
    m = re.search(r"A->B (\d+) packets .* B->A (\d+) packets .* copies (\d+)", text)
    assert m, text
    ab, ba, copies = map(int, m.groups())
    assert ab >= 1_000_000 and ba >= 1_000_000, text
    assert copies == 0, text
    assert "pool audit ok" in text, text


def test_host_stack_bridge(tmp_path):
    """nmbridge -i netmap:p1 joins the wire to the host stack of p1's namespace: a host on
    the wire pings an address that lives on the host side (the TAP nmh-p1)."""
    lb = Lab("nmh")
    try:
        lb.ns("h1")
        lb.ns("br")
        lb.veth("h1", "e1", "br", "p1")
        lb.run("h1", ["ip", "addr", "add", "10.51.0.1/24", "dev", "e1"])
        log = str(tmp_path / "hb.log")
        br = start_bridge(lb, ["netmap:p1"], log)
        lb.run("br", ["ip", "addr", "add", "10.51.0.3/24", "dev", "nmh-p1"])
        lb.run("br", ["ethtool", "-K", "nmh-p1", "tx", "off"], check=False)
        r = lb.run("h1", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.51.0.3"], check=False)
        assert " 0% packet loss" in r.stdout, r.stdout + open(log).read()
        rc, text = lb.stop(br)
        assert rc == 0 and "audit ok" in text, text
        assert "nmh-p1" not in lb.run("br", ["ip", "link"]).stdout, "TAP left behind"
    finally:
        lb.close()


UDP_RX = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("0.0.0.0", 7000))
s.settimeout(0.2)
print("ready", flush=True)
want, got, end = int(sys.argv[1]), set(), time.monotonic() + 20
while len(got) < want and time.monotonic() < end:
    try:
        got.add(s.recv(64))
    except socket.timeout:
        pass
print("received", len(got), flush=True)
"""

UDP_TX = """
import socket, time
for flow in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 20000 + flow))
    for i in range(20):
        s.sendto(b"flow %d pkt %d" % (flow, i), ("10.52.0.2", 7000))
    s.close()
    time.sleep(0.002)
"""


def xdp_queue_counts(lb, ns, ifname):
    """Per-RX-queue XDP redirect counters of a veth (ethtool -S)."""
    out = lb.run(ns, ["ethtool", "-S", ifname]).stdout
    return {int(q): int(v) for q, v in re.findall(r"rx_queue_(\d+)_xdp_redirect: (\d+)", out)}


def test_multi_queue_one_thread_per_queue_pair(tmp_path):
    """On veths with two queues nmbridge opens two ring pairs per port and runs two threads;
    64 UDP flows spread over both queues (by flow hash) and every datagram arrives."""
    lb = Lab("nmq")
    try:
        for n in ("h1", "br", "h2"):
            lb.ns(n)
        for a, ia, ib in (("h1", "e1", "p1"), ("h2", "e2", "p2")):
            subprocess.run(["ip", "link", "add", ia, "netns", lb.full(a), "numtxqueues", "2",
                            "numrxqueues", "2", "type", "veth", "peer", "name", ib, "netns",
                            lb.full("br"), "numtxqueues", "2", "numrxqueues", "2"], check=True)
            for n, i in ((a, ia), ("br", ib)):
                lb.run(n, ["ip", "link", "set", i, "up"])
                lb.run(n, ["ethtool", "-K", i, "tx", "off"], quiet=True)
        lb.run("h1", ["ip", "addr", "add", "10.52.0.1/24", "dev", "e1"])
        lb.run("h2", ["ip", "addr", "add", "10.52.0.2/24", "dev", "e2"])
        log = str(tmp_path / "mq.log")
        br = start_bridge(lb, ["netmap:p1", "netmap:p2"], log)
        text = open(log).read()
        assert text.count("2 ring pairs") == 2 and "2 threads" in text, text
        rx_log = str(tmp_path / "udp-rx.log")
        rx = lb.start("h2", [PY, "-c", UDP_RX, str(64 * 20)], rx_log)
        wait_for(lambda: log_has(rx_log, "ready"), 10, "receiver ready")
        lb.run("h1", [PY, "-c", UDP_TX])
        rx.wait(30)
        assert f"received {64 * 20}" in open(rx_log).read(), open(rx_log).read()
        q = xdp_queue_counts(lb, "br", "p1")
        assert set(q) == {0, 1} and q[0] > 0 and q[1] > 0, q
        rc, text = lb.stop(br)
        assert rc == 0 and "pool audit ok" in text, text
    finally:
        lb.close()


@pytest.mark.parametrize("opt", ["-b 4294967297", "-b 10x", "-r 4294967360", "-r 1k",
                                 "-w abc", "-w -1", "-a abc", "-a -1"])
def test_bad_numeric_option(opt):
    """A nonsense number exits 2 with a line naming the option, before any port opens (no
    2^32 + 64 wrapped to 64, no 'abc' read as 0, no CPU -1 ignored)."""
    r = subprocess.run([f"{BIN}/nmbridge", "-i", "netmap:nosuchif", "-i", "netmap:nosuchif2"] +
                       opt.split(), capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"nmbridge: {opt}:" in r.stderr, r.stderr


def test_af_packet_bridge_frames_byte_for_byte(tmp_path):
    """nmbridge on AF_PACKET ports (/packet) passes frames of every kind byte for byte, an
    802.1Q-tagged one included: the kernel hands AF_PACKET the tag apart from the frame
    (tp_vlan_tci), and the port must put it back."""
    lb = Lab("nmp")
    try:
        wire_h1_br_h2(lb)
        log = str(tmp_path / "pb.log")
        br = start_bridge(lb, ["netmap:p1/packet", "netmap:p2/packet"], log)
        assert open(log).read().count("AF_PACKET") == 2, open(log).read()
        frames = frames_for("02:aa:00:00:00:01", mac(lb, "h2", "e2"), n_random=10)
        fin, fout = str(tmp_path / "frames.json"), str(tmp_path / "got.json")
        json.dump([f.hex() for f in frames], open(fin, "w"))
        snf = lb.start("h2", [PY, L2IO, "sniff", "e2", fout, "15", str(len(frames)),
                              "02:aa:00:00:00:01"], str(tmp_path / "sniff.log"))
        wait_for(lambda: log_has(snf.log, "ready"), 15, "sniffer ready")
        lb.run("h1", [PY, L2IO, "send", "e1", fin])
        snf.wait(30)
        got = [bytes.fromhex(h) for h in json.load(open(fout))]
        ours = [g for g in got if g[6:12] == bytes.fromhex("02aa00000001")]
        for f in frames:
            n = ours.count(f)
            assert n == 1, (f"frame of {len(f)} bytes ({f[12:14].hex()}) arrived {n} times; "
                            f"got lengths {[len(g) for g in ours]}")
        rc, text = lb.stop(br)
        assert rc == 0 and "audit ok" in text, text
    finally:
        lb.close()


def test_host_stack_bridge_dash_name(tmp_path):
    """One -i with an interface whose name has a '-' that is not a queue suffix
    (netmap:p-a) bridges it with its host rings, as the port layer parses the name."""
    lb = Lab("nmd")
    try:
        lb.ns("h1")
        lb.ns("br")
        lb.veth("h1", "e1", "br", "p-a")
        log = str(tmp_path / "hd.log")
        br = start_bridge(lb, ["netmap:p-a"], log)
        rc, text = lb.stop(br)
        assert rc == 0 and "audit ok" in text, text
        assert "nmh-p-a" not in lb.run("br", ["ip", "link"]).stdout, "TAP left behind"
    finally:
        lb.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_cleanly(tmp_path, sig):
    """SIGTERM, and SIGHUP (the terminal that ran it closed), stop nmbridge as SIGINT does:
    totals and the buffer audit printed, exit 0, no XDP program left on either port."""
    lb = Lab("nms")
    try:
        lb.ns("h")
        lb.ns("br")
        lb.veth("h", "e1", "br", "p1")
        lb.veth("h", "e2", "br", "p2")
        log = str(tmp_path / "sig.log")
        br = start_bridge(lb, ["netmap:p1", "netmap:p2"], log)
        for i in ("p1", "p2"):
            assert "prog/xdp" in lb.run("br", ["ip", "-d", "link", "show", i]).stdout
        br.send_signal(sig)
        br.wait(10)
        text = open(log).read()
        assert br.returncode == 0, text
        assert "pool audit ok" in text and "A->B" in text, text
        for i in ("p1", "p2"):
            out = lb.run("br", ["ip", "-d", "link", "show", i]).stdout
            assert "prog/xdp" not in out, out
    finally:
        lb.close()
