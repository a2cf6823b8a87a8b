"""The test's side of QEMU's qtest protocol, for molt's scripts and benchmarks: listen on a unix socket
that the VMM's -qtest unix:PATH connects to (as QEMU's libqtest does), send requests, read replies
(asynchronous IRQ lines are skipped), move guest RAM with b64write/b64read in 256 KiB pieces."""
import base64
import hashlib
import os
import random
import socket

PIECE = 256 * 1024


class Listener:
    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(1)

    def accept(self, timeout=60):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        return Client(conn)

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Client:
    def __init__(self, conn):
        self.conn = conn
        self.f = conn.makefile("rwb")

    def request(self, line):
        self.f.write((line + "\n").encode("latin-1"))
        self.f.flush()
        while True:
            reply = self.f.readline()
            if not reply:
                raise OSError("qtest connection closed")
            reply = reply.decode("latin-1").rstrip("\n")
            if not reply.startswith("IRQ "):
                return reply

    def ok(self, line):
        reply = self.request(line)
        if reply != "OK" and not reply.startswith("OK "):
            raise SystemExit("qtest: %r answered %r" % (line[:60], reply))
        return reply[3:]

    def write(self, gpa, data):
        for off in range(0, len(data), PIECE):
            piece = data[off:off + PIECE]
            self.ok("b64write 0x%x %d %s" % (gpa + off, len(piece), base64.b64encode(piece).decode()))

    def read(self, gpa, size):
        out = bytearray()
        for off in range(0, size, PIECE):
            n = min(PIECE, size - off)
            out += base64.b64decode(self.ok("b64read 0x%x %d" % (gpa + off, n)))
        return bytes(out)

    def close(self):
        self.conn.close()


def pattern(seed, size):
    """size deterministic pseudo-random bytes."""
    rng = random.Random(seed)
    chunk = 1 << 20
    return b"".join(rng.randbytes(min(chunk, size - off)) for off in range(0, size, chunk))


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]
