#!/usr/bin/env python3
"""Starts a command, returns the seconds from its start until a line of its stdout starts with a
prefix, then kills it (and its children). Used by the benchmarks to time 'process start -> READY'."""
import os, signal, subprocess, sys, time

def time_to_line(cmd, prefix, timeout):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        deadline = start + timeout
        for raw in p.stdout:
            if raw.decode(errors="replace").lstrip("\r").startswith(prefix):
                return time.monotonic() - start
            if time.monotonic() > deadline:
                break
        return None
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

if __name__ == "__main__":
    prefix, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    t = time_to_line(cmd, prefix, timeout)
    print("timeout" if t is None else f"{t*1000:.1f}")
