#!/usr/bin/env bash
# virtio-net from the test guest: packets per second and round-trip time of UDP datagrams through a tap
# to a responder (scripts/lib/echo_net.py: a bridge at 10.99.0.1 in a network namespace, the VMM run
# there), molt beside QEMU 10.2 (../shared/tools/build-qemu.sh builds it; MOLT_QEMU names another) on
# the same host and guest, runs interleaved; each line gives the median and the range (min .. max)
# over the runs. Goal: at least QEMU's figures. Needs root, /dev/net/tun and ip netns.
#
# With KVM the guest measures (guest/README.md: netbench=pps keeps at most 32 datagrams unanswered and
# counts answers per second; netbench=rtt sends one at a time, median round trip; MOLT_BENCH_SECONDS,
# default 2). Under -accel qtest (--qtest, or by itself where KVM is unusable) no guest CPU runs:
# scripts/lib/qtest_virtio_bench.py is the guest's driver over the qtest protocol, measuring the VMM
# side alone: a batch of datagrams made available, one notify, the time until every answer is in the
# receive queue (each poll is a qtest round trip, reported beside the figures as "per qtest poll").
# The responder is one Python process: pps is bounded by it, the same for both VMMs.
# Usage: bench/net.sh [--qtest] [runs]    (default 5 runs; pps batch 32, rtt batch 1)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/virtio_bench.sh
. "$root/bench/lib/virtio_bench.sh"
virtio_bench_setup "$@"
virtio_bench pps 32 "$how: UDP datagrams answered per second, 32 at a time"
virtio_bench rtt 1 "$how: UDP round trip, one at a time"
