#!/usr/bin/env bash
# Builds the molt test guest: guest/build/molt-guest.elf, a freestanding
# x86-64 kernel that boots through PVH (QEMU -kernel, or molt).
#
# Usage: guest/build.sh        (from anywhere; about a second)
# Env:   CC (default gcc), LD (default ld)
#
# Always rebuilds from scratch into a private temp directory and renames
# the result into place, so concurrent or repeated runs are safe and give
# the same bytes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
CC="${CC:-gcc}"
LD="${LD:-ld}"

for tool in "$CC" "$LD" nm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "guest/build.sh: error: '$tool' not found; install it (Debian: apt-get install -y gcc binutils)" >&2
        exit 1
    fi
done

# Ring 0 is instruction-emulated on kvm_pvm: plain integer code only (no
# SSE/AVX, no endbr64, no stack protector); -mno-red-zone because
# interrupts taken in ring 0 use the same stack; small code model because
# the kernel is linked and identity-mapped at 1 MiB.
CFLAGS=(
    -std=gnu11 -O2 -Wall -Wextra
    -m64 -march=x86-64 -mtune=generic
    -ffreestanding -fno-builtin -nostdlib -fno-common
    -fno-pic -fno-pie -mcmodel=small
    -mno-red-zone -mgeneral-regs-only
    -fno-stack-protector -fcf-protection=none
    -fno-asynchronous-unwind-tables -fno-unwind-tables
    -fno-tree-loop-distribute-patterns -fno-delete-null-pointer-checks
)

mkdir -p "$out"
tmp="$(mktemp -d "$out/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

srcs=(entry.S main.c serial.c cmdline.c paging.c time.c smp.c work.c virtio_mmio.c virtio_blk.c virtio_net.c)
objs=()
pids=()
for src in "${srcs[@]}"; do
    obj="$tmp/${src%.*}.o"
    objs+=("$obj")
    "$CC" "${CFLAGS[@]}" -c "$here/$src" -o "$obj" &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

# Ring-3 code may only reach its own pages: any call into the kernel (or a
# compiler-generated memcpy/memset) would fault at run time.
undef="$(nm -u "$tmp/work.o")"
if [ -n "$undef" ]; then
    echo "guest/build.sh: error: work.o (ring 3) references outside symbols:" >&2
    echo "$undef" >&2
    exit 1
fi

ldflags=(-nostdlib -static -T "$here/molt-guest.ld" -z max-page-size=4096 -z noexecstack --build-id=none)
ld_help="$("$LD" --help 2>/dev/null || true)"
if [[ "$ld_help" == *--no-warn-rwx-segments* ]]; then
    ldflags+=(--no-warn-rwx-segments)   # one RWX segment is intended
fi
"$LD" "${ldflags[@]}" -o "$tmp/molt-guest.elf" "${objs[@]}"
mv -f "$tmp/molt-guest.elf" "$out/molt-guest.elf"
echo "guest/build.sh: built $out/molt-guest.elf"
