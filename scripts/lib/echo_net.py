#!/usr/bin/env python3
"""The far side of the test guest's network workload (guest/README.md, net=1 and netbench=): a network
namespace with a bridge at 10.99.0.1/24, persistent taps on it for the VMM, and a UDP responder on
10.99.0.1:7000 that sends every datagram back to its sender unchanged. The VMM runs in the namespace
(EchoNet.prefix) and opens its tap by name, or is handed it as an fd; the guest (10.99.0.2, which
answers ARP itself) finds the responder through the bridge. Needs root, /dev/net/tun and ip(8).

As a module: with EchoNet("name", ["tap0"]) as net: subprocess.run(net.prefix + [vmm, ...]).
As a program: echo_net.py serve [LOGFILE] runs the responder in the current namespace (printing
'ready' once bound; LOGFILE gets one line per datagram: its first 24 bytes in hex)."""
import os
import socket
import subprocess
import sys

HOST_IP, PORT = "10.99.0.1", 7000


def serve(log_path=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((HOST_IP, PORT))
    log = open(log_path, "a") if log_path else None
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)
        if log:
            log.write(data[:24].hex() + "\n")
            log.flush()


class EchoNet:
    def __init__(self, name, taps, log=None):
        self.ns, self.taps, self.responder = name, list(taps), None
        self.prefix = ["ip", "netns", "exec", name]
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        try:
            self._ip("netns", "add", name)
            # no IPv6: nothing but the responder's answers (and ARP) goes to the guest
            subprocess.run(self.prefix + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                          "net.ipv6.conf.default.disable_ipv6=1"], check=True)
            for args in (["link", "set", "lo", "up"], ["link", "add", "br0", "type", "bridge"],
                         ["addr", "add", HOST_IP + "/24", "dev", "br0"], ["link", "set", "br0", "up"]):
                self._ip("-n", name, *args)
            for tap in self.taps:
                self._ip("-n", name, "tuntap", "add", "dev", tap, "mode", "tap")
                self._ip("-n", name, "link", "set", tap, "master", "br0")
                self._ip("-n", name, "link", "set", tap, "up")
            cmd = self.prefix + [sys.executable, "-u", os.path.abspath(__file__), "serve"] + ([log] if log else [])
            self.responder = subprocess.Popen(cmd, stdout=subprocess.PIPE)
            if self.responder.stdout.readline() != b"ready\n":
                raise RuntimeError("the responder did not start")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _ip(*args):
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))

    def neighbour(self, ip, mac):
        """A permanent neighbour entry on the bridge, for a guest that answers no ARP."""
        self._ip("-n", self.ns, "neigh", "replace", ip, "lladdr", mac, "dev", "br0", "nud", "permanent")

    def ifindex(self, tap):
        out = subprocess.run(["ip", "-n", self.ns, "-o", "link", "show", tap], capture_output=True, text=True).stdout
        return int(out.split(":")[0]) if out else None

    def close(self):
        if self.responder:
            self.responder.kill()
            self.responder.wait()
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)  # the bridge and taps go with it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        sys.exit(__doc__)
