#!/usr/bin/env bash
# virtio-blk from the test guest: 4 KiB random-read and random-write IOPS and 1 MiB sequential read and
# write throughput, molt beside QEMU 10.2 (../shared/tools/build-qemu.sh builds it; MOLT_QEMU names
# another) on the same host, guest and image (a 256 MiB raw file, cache=writeback), runs interleaved;
# each line gives the median and the range (min .. max) over the runs. Goal: at least QEMU's figures.
#
# With KVM the guest measures (guest/README.md, blkbench=MODE benchqd=N: CPU 0 makes N requests
# available, notifies once, polls until all are used, for MOLT_BENCH_SECONDS, default 2).
# Under -accel qtest (--qtest, or by itself where KVM is unusable) no guest CPU runs: this host's
# scripts/lib/qtest_virtio_bench.py is the guest's driver over the qtest protocol, which measures the
# VMM side alone: a batch of requests made available, one notify, the time until all are used (each
# poll of the used index is a qtest round trip, reported beside the figures as "per qtest poll").
# Usage: bench/blk.sh [--qtest] [runs]    (default 5 runs; batches: 1 request per notify in the guest; 64 random, 8 sequential under qtest)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/virtio_bench.sh
. "$root/bench/lib/virtio_bench.sh"
virtio_bench_setup "$@"
if [ -n "$qtest" ]; then rand=64 seq=8; else rand=1 seq=1; fi
virtio_bench randread "$rand" "$how: 4 KiB random read, $rand per notify"
virtio_bench randwrite "$rand" "$how: 4 KiB random write, $rand per notify"
virtio_bench seqread "$seq" "$how: 1 MiB sequential read, $seq per notify"
virtio_bench seqwrite "$seq" "$how: 1 MiB sequential write, $seq per notify"
