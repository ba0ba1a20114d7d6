"""nslab.py — network-namespace labs for pytest integration tests.

A Lab makes namespaces with a unique prefix, veth pairs between them, runs commands in
them and starts daemons; close() stops every process it started (SIGINT, then SIGKILL
after a bounded wait) and deletes every namespace. Waits are bounded polls, never bare
sleeps. Run as root under /usr/bin/python3."""
import os
import signal
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(TOP, "bin")
PY = "/usr/bin/python3"


def wait_for(fn, timeout, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Lab:
    def __init__(self, tag="lab"):
        self.prefix = f"{tag}{os.getpid()}"
        self.names = []
        self.procs = []

    def ns(self, name):
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", full], check=True)
        self.names.append(full)
        self.run(name, ["ip", "link", "set", "lo", "up"])
        # no IPv6 autoconf noise unless a test turns it back on
        self.run(name, ["sysctl", "-qw", "net.ipv6.conf.default.accept_ra=0"])
        return full

    def full(self, name):
        return f"{self.prefix}-{name}"

    def veth(self, a, ia, b, ib, offload_off=True):
        subprocess.run(["ip", "link", "add", ia, "netns", self.full(a), "type", "veth",
                        "peer", "name", ib, "netns", self.full(b)], check=True)
        for n, i in ((a, ia), (b, ib)):
            self.run(n, ["ip", "link", "set", i, "up"])
            if offload_off:
                # A veth hands partial checksums to its peer; a userspace data plane
                # between them must get finished ones (as netmap on veth/virtio).
                self.run(n, ["ethtool", "-K", i, "tx", "off"], quiet=True)

    def run(self, name, cmd, check=True, quiet=False, timeout=120, **kw):
        r = subprocess.run(["ip", "netns", "exec", self.full(name)] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} in {name}: rc={r.returncode}\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def start(self, name, cmd, log):
        f = open(log, "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.full(name)] + cmd,
                             stdout=f, stderr=subprocess.STDOUT, text=True)
        p.log = log
        self.procs.append(p)
        return p

    def stop(self, p, timeout=10):
        """SIGINT, bounded wait; returns the exit code and the log text."""
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode, open(p.log).read()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for n in self.names:
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)


def log_has(path, text):
    try:
        return text in open(path).read()
    except FileNotFoundError:
        return False
