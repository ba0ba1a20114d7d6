#!/usr/bin/python3
"""l2io.py — send or capture raw Ethernet frames with scapy, for tests run inside a netns.

  l2io.py send IFACE FRAMES.json        send each hex frame once (sendp)
  l2io.py sniff IFACE OUT.json SECS [N [SRCMAC]]
                                        capture frames received on IFACE (only from SRCMAC if
                                        given) for SECS or until N arrived (prints "ready" once
                                        bound), write hex frames

Runs under Debian's /usr/bin/python3 (python3-scapy)."""
import json
import select
import sys
import time

from scapy.all import conf  # noqa: E402

conf.verb = 0


def main():
    cmd, iface = sys.argv[1], sys.argv[2]
    if cmd == "send":
        frames = [bytes.fromhex(h) for h in json.load(open(sys.argv[3]))]
        s = conf.L2socket(iface=iface)
        for f in frames:
            s.send(f)
        s.close()
        return 0
    if cmd == "sniff":
        out, secs = sys.argv[3], float(sys.argv[4])
        want = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        src = bytes.fromhex(sys.argv[6].replace(":", "")) if len(sys.argv) > 6 else None
        sock = conf.L2listen(iface=iface)  # bound when constructed
        print("ready", flush=True)
        got = []
        deadline = time.time() + secs
        while time.time() < deadline and (not want or len(got) < want):
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                p = sock.recv()
                if p is not None and (src is None or bytes(p)[6:12] == src):
                    got.append(bytes(p).hex())
        sock.close()
        json.dump(got, open(out, "w"))
        return 0
    print("usage: l2io.py send|sniff ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
