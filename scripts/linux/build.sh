#!/usr/bin/env bash
# Prepare a real Linux guest for molt from Debian's own packages.
#
# Makes, in <repo>/build/linux/ (git-ignored):
#   bzImage            the Debian kernel as shipped (/boot/vmlinuz-*)
#   vmlinux            the uncompressed ELF kernel taken out of bzImage
#                      (has the Xen PVH entry note, XEN_ELFNOTE_PHYS32_ENTRY)
#   initramfs.cpio.gz  newc cpio: static busybox + an /init that prints
#                      MOLT-LINUX-READY and then gives a shell on the console
#   cmdline.txt        the recommended kernel command line
#   manifest.txt       what was built from what (packages, release, PVH entry)
#
# Packages are fetched with `apt-get download` (never installed) into
# ${MOLT_CACHE:-$HOME/.cache/molt}/linux and unpacked there with `dpkg-deb -x`.
# A second run with the same packages only checks the stamp and returns.
#
# Environment:
#   MOLT_CACHE             cache root (default $HOME/.cache/molt)
#   MOLT_LINUX_OUT         output folder (default <repo>/build/linux)
#   MOLT_LINUX_KERNEL_PKG  pin the kernel package (e.g. linux-image-6.1.0-56-amd64-unsigned)
#   MOLT_LINUX_FORCE=1     rebuild the outputs even if the stamp matches
set -euo pipefail

readonly CMDLINE='console=ttyS0 reboot=k panic=1 pci=off nokaslr earlyprintk=serial,ttyS0,115200'
readonly META_PKG='linux-image-amd64'
readonly BUSYBOX_PKG='busybox-static'

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_DIR="${MOLT_CACHE:-$HOME/.cache/molt}/linux"
OUT_DIR="${MOLT_LINUX_OUT:-$REPO_ROOT/build/linux}"

log()  { printf 'build.sh: %s\n' "$*" >&2; }
warn() { printf 'build.sh: warning: %s\n' "$*" >&2; }
die()  { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

TMP_DIR=''
cleanup() { if [[ -n "$TMP_DIR" && -d "$TMP_DIR" ]]; then rm -rf -- "$TMP_DIR"; fi; }
trap cleanup EXIT

is_root() { [[ $(id -u) -eq 0 ]]; }

# ---------------------------------------------------------------------------
# Host tools
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
    [[ $APT_UPDATED -eq 1 ]] && return 0
    is_root || return 1
    log "running apt-get update"
    if ! apt-get update -qq >&2; then
        warn "apt-get update failed"
        return 1
    fi
    APT_UPDATED=1
}

ensure_tools() {
    if ! command -v apt-get >/dev/null || ! command -v apt-cache >/dev/null || ! command -v dpkg-deb >/dev/null; then
        die "this script needs a Debian-like host with apt-get, apt-cache and dpkg-deb"
    fi
    local -a missing=()
    local pair cmd pkg
    for pair in cpio:cpio xz:xz-utils file:file readelf:binutils gzip:gzip od:coreutils sha256sum:coreutils; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    # de-duplicate
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    is_root || die "missing tools; install them first: sudo apt-get install ${missing[*]}"
    log "installing missing tools with apt-get: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        apt_update_once || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
            die "could not install the needed tools with apt-get: ${missing[*]}"
    fi
}

# ---------------------------------------------------------------------------
# Package resolution
# ---------------------------------------------------------------------------
# Candidate versions of several packages in one apt-cache call:
# fills CANDIDATE[pkg]=version for each package apt has a candidate for.
declare -A CANDIDATE=()
load_candidates() {
    local pkg ver
    while IFS=' ' read -r pkg ver; do
        [[ -n "$pkg" && -n "$ver" && "$ver" != "(none)" ]] && CANDIDATE[$pkg]=$ver
    done < <(LC_ALL=C apt-cache policy "$@" 2>/dev/null |
             awk '/^[^ ].*:$/ {p = substr($0, 1, length($0) - 1)} /^  Candidate:/ {print p, $2}')
    return 0
}

# The real kernel package behind linux-image-amd64 (linux-image-6.x.y-amd64).
kernel_dependency() {
    LC_ALL=C apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$META_PKG" 2>/dev/null |
    awk '$1 ~ /^\|?(Pre)?Depends:$/ && $2 ~ /^linux-image-[0-9].*-amd64(-unsigned)?$/ {print $2; exit}'
}

KERNEL_PKG='' KERNEL_VER='' BUSYBOX_VER=''
resolve_packages() {
    local dep
    KERNEL_PKG='' KERNEL_VER='' BUSYBOX_VER=''
    CANDIDATE=()
    if [[ -n "${MOLT_LINUX_KERNEL_PKG:-}" ]]; then
        load_candidates "$MOLT_LINUX_KERNEL_PKG" "$BUSYBOX_PKG"
        KERNEL_PKG=$MOLT_LINUX_KERNEL_PKG
    else
        dep=$(kernel_dependency)
        dep=${dep%-unsigned}
        if [[ -n "$dep" ]]; then
            load_candidates "$dep" "$dep-unsigned" "$BUSYBOX_PKG"
            # Prefer the unsigned image (same kernel, no Secure Boot signature).
            if [[ -n "${CANDIDATE[$dep-unsigned]:-}" ]]; then KERNEL_PKG=$dep-unsigned; else KERNEL_PKG=$dep; fi
        else
            load_candidates "$BUSYBOX_PKG"
        fi
    fi
    if [[ -n "$KERNEL_PKG" ]]; then KERNEL_VER=${CANDIDATE[$KERNEL_PKG]:-}; fi
    BUSYBOX_VER=${CANDIDATE[$BUSYBOX_PKG]:-}
    [[ -n "$KERNEL_PKG" && -n "$KERNEL_VER" && -n "$BUSYBOX_VER" ]]
}

# ---------------------------------------------------------------------------
# Download + extract (cached)
# ---------------------------------------------------------------------------
# fetch_deb PKG VERSION -> prints the path of the cached .deb
fetch_deb() {
    local pkg=$1 ver=$2 f
    local dir="$CACHE_DIR/debs"
    mkdir -p "$dir"
    for f in "$dir/${pkg}_"*.deb; do
        [[ -f "$f" ]] || continue
        if [[ "$(dpkg-deb -f "$f" Package 2>/dev/null)" == "$pkg" &&
              "$(dpkg-deb -f "$f" Version 2>/dev/null)" == "$ver" ]]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
    log "downloading $pkg=$ver (apt-get download)"
    local tmp
    tmp=$(mktemp -d "$dir/.dl.XXXXXX")
    local -a opts=()
    # As root, apt would otherwise drop to _apt and complain it cannot write here.
    if is_root; then opts+=(-o APT::Sandbox::User=root); fi
    if ! (cd "$tmp" && apt-get download -q "${opts[@]}" "$pkg=$ver" >&2); then
        rm -rf -- "$tmp"
        die "apt-get download failed for package '$pkg' (version $ver): is the Debian mirror reachable? (try: apt-get update)"
    fi
    f=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
    [[ -n "$f" ]] || { rm -rf -- "$tmp"; die "apt-get download produced no .deb for package '$pkg'"; }
    mv -f -- "$f" "$dir/"
    rm -rf -- "$tmp"
    printf '%s\n' "$dir/$(basename "$f")"
}

# extract_deb DEB -> prints the folder it was unpacked into (dpkg-deb -x, cached)
extract_deb() {
    local deb=$1
    local name
    name=$(basename "$deb" .deb)
    local dest="$CACHE_DIR/extract/$name"
    if [[ ! -f "$dest/.complete" ]]; then
        log "extracting $(basename "$deb")"
        mkdir -p "$CACHE_DIR/extract"
        rm -rf -- "$dest" "$dest.tmp"
        dpkg-deb -x "$deb" "$dest.tmp" || die "dpkg-deb -x failed on $deb"
        touch "$dest.tmp/.complete"
        mv -- "$dest.tmp" "$dest"
    fi
    printf '%s\n' "$dest"
}

# ---------------------------------------------------------------------------
# bzImage -> vmlinux
# ---------------------------------------------------------------------------
le_u8()  { od -An -v -tu1 -j "$2" -N1 "$1" | tr -d ' \n'; }
le_u16() { od -An -v -tu2 --endian=little -j "$2" -N2 "$1" | tr -d ' \n'; }
le_u32() { od -An -v -tu4 --endian=little -j "$2" -N4 "$1" | tr -d ' \n'; }
hex_at() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

# Decompress the payload that starts at byte OFFSET of FILE into OUT,
# choosing the decompressor from the magic bytes found there.
decompress_at() {
    local file=$1 off=$2 out=$3 magic
    magic=$(hex_at "$file" "$off" 6)
    case "$magic" in
        fd377a585a00)
            # --single-stream: stop after the first .xz stream and ignore
            # whatever follows it (padding, relocation data, ...).
            xz -dc --single-stream < <(tail -c "+$((off + 1))" "$file") >"$out" 2>/dev/null || return 1 ;;
        1f8b08*)
            # gzip complains about trailing garbage but still writes it all.
            gzip -dc < <(tail -c "+$((off + 1))" "$file") >"$out" 2>/dev/null || [[ -s "$out" ]] || return 1 ;;
        28b52ffd*)
            command -v zstd >/dev/null || die "kernel payload is zstd-compressed; install zstd"
            zstd -dcq < <(tail -c "+$((off + 1))" "$file") >"$out" 2>/dev/null || [[ -s "$out" ]] || return 1 ;;
        *)
            return 1 ;;
    esac
    [[ "$(hex_at "$out" 0 4)" == 7f454c46 ]]
}

extract_vmlinux() {
    local bz=$1 out=$2
    [[ "$(hex_at "$bz" 0x202 4)" == 48647253 ]] || die "$bz is not a bzImage (no 'HdrS' boot header)"
    local version setup_sects payload_off payload_len start
    version=$(le_u16 "$bz" 0x206)
    if (( version >= 0x208 )); then
        # Boot protocol >= 2.08: the header says exactly where the payload is.
        setup_sects=$(le_u8 "$bz" 0x1f1)
        (( setup_sects == 0 )) && setup_sects=4
        payload_off=$(le_u32 "$bz" 0x248)
        payload_len=$(le_u32 "$bz" 0x24c)
        start=$(( (setup_sects + 1) * 512 + payload_off ))
        log "bzImage: boot protocol $(printf '%d.%02d' $((version >> 8)) $((version & 0xff))), payload at byte $start ($payload_len bytes)"
        if decompress_at "$bz" "$start" "$out"; then return 0; fi
        warn "the payload named by the boot header did not decompress; scanning for the XZ magic instead"
    fi
    # Fallback: try every XZ stream start in the file.
    local off
    while IFS=: read -r off _; do
        if decompress_at "$bz" "$off" "$out"; then
            log "bzImage: XZ payload found at byte $off by magic scan"
            return 0
        fi
    done < <(LC_ALL=C grep -obUaP '\xfd\x37\x7a\x58\x5a\x00' "$bz" || true)
    die "could not find a decompressible ELF payload in $bz"
}

# Prints the PVH entry (XEN_ELFNOTE_PHYS32_ENTRY, type 0x12) of an ELF, or fails.
pvh_entry() {
    local elf=$1
    LC_ALL=C readelf -W -n "$elf" 2>/dev/null | awk '
        # readelf -W prints "Xen  0x...  Unknown note type: (0x00000012)  description data: 50 08 00 01 ..."
        $1 == "Xen" && /\(0x0*12\)/ && /description data:/ {
            sub(/.*description data: */, "")
            n = split($0, b, " ")
            v = ""
            for (i = (n < 4 ? n : 4); i >= 1; i--) v = v b[i]   # little endian, low 32 bits
            print "0x" v; found = 1; exit
        }
        END { exit found ? 0 : 1 }'
}

verify_vmlinux() {
    local v=$1 desc
    desc=$(file -b "$v")
    [[ "$desc" == *"ELF 64-bit LSB executable, x86-64"* ]] ||
        die "$v is not an x86-64 ELF executable (file says: $desc)"
    LC_ALL=C readelf -h "$v" >/dev/null 2>&1 || die "readelf cannot read $v"
    PVH_ENTRY=$(pvh_entry "$v") ||
        die "$v has no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 0x12); readelf -n shows none"
}

# ---------------------------------------------------------------------------
# initramfs
# ---------------------------------------------------------------------------
write_init() {
    cat >"$1" <<'EOF'
#!/bin/busybox sh
# molt guest /init (made by scripts/linux/build.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

/bin/busybox mkdir -p /proc /sys /dev /tmp /run
mount -t proc     proc     /proc 2>/dev/null
mount -t sysfs    sysfs    /sys  2>/dev/null
mount -t devtmpfs devtmpfs /dev  2>/dev/null
mkdir -p /dev/pts
mount -t devpts   devpts   /dev/pts 2>/dev/null
# Make sure stdio is the console even if the kernel could not open one.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

cpus=$(nproc 2>/dev/null)
online=$(cat /sys/devices/system/cpu/online 2>/dev/null)
mem=$(awk '/^MemTotal:/ {print $2 " " $3}' /proc/meminfo 2>/dev/null)

echo
echo "MOLT-LINUX-READY"
echo "kernel: $(uname -r)"
echo "cpus online: ${cpus:-?} (${online:-?})"
echo "MemTotal: ${mem:-?}"
echo

# `molt.poweroff` on the kernel command line: stop right after the banner.
case " $(cat /proc/cmdline 2>/dev/null) " in
    *" molt.poweroff "*) echo "molt: powering off"; poweroff -f ;;
esac

echo "molt: busybox shell on the console; 'poweroff -f' powers off, 'reboot -f' resets"
while :; do
    setsid cttyhack sh -l || sh
    echo "molt: shell exited, powering off"
    poweroff -f
    sleep 1
done
EOF
    chmod 0755 "$1"
}

build_initramfs() {
    local busybox=$1 out=$2
    local stage="$TMP_DIR/initramfs"
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc}
    chmod 1777 "$stage/tmp"
    install -m 0755 "$busybox" "$stage/bin/busybox"

    # One symlink per applet, at the place busybox says it lives.
    local -a applets=()
    if mapfile -t applets < <("$stage/bin/busybox" --list-full 2>/dev/null) && [[ ${#applets[@]} -gt 0 ]]; then
        :
    else
        warn "could not run busybox --list-full on this host; linking a fixed applet list"
        applets=(bin/sh bin/ash bin/mount bin/umount bin/echo bin/cat bin/ls bin/mkdir bin/dmesg
                 bin/uname bin/sleep bin/ps bin/grep bin/sed bin/cpio bin/setsid bin/ln bin/rm bin/cp bin/mv
                 bin/mknod bin/stty bin/true bin/false
                 sbin/poweroff sbin/reboot sbin/halt sbin/init bin/cttyhack
                 usr/bin/nproc usr/bin/awk usr/bin/free usr/bin/tr usr/bin/head usr/bin/tail usr/bin/env)
    fi
    local a
    for a in "${applets[@]}"; do
        [[ -n "$a" && "$a" != bin/busybox ]] || continue
        mkdir -p "$stage/$(dirname "$a")"
        [[ -e "$stage/$a" || -L "$stage/$a" ]] || ln -s /bin/busybox "$stage/$a"
    done
    [[ -L "$stage/bin/sh" ]] || ln -s /bin/busybox "$stage/bin/sh"

    write_init "$stage/init"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
    printf 'root:x:0:\n' >"$stage/etc/group"
    printf 'export PS1="molt# "\n' >"$stage/etc/profile"

    # Device nodes (the kernel's built-in initramfs has /dev/console anyway;
    # devtmpfs provides the rest once /init mounts it).
    if is_root; then
        mknod -m 0600 "$stage/dev/console" c 5 1
        mknod -m 0666 "$stage/dev/null" c 1 3
        mknod -m 0666 "$stage/dev/ttyS0" c 4 64
    fi

    # Reproducible archive: fixed times, sorted names, owner root.
    find "$stage" -exec touch -h -d @0 {} +
    (cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -9n >"$out.tmp"
    mv -f -- "$out.tmp" "$out"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
OUTPUTS=(bzImage vmlinux initramfs.cpio.gz cmdline.txt manifest.txt)
STAMP="$OUT_DIR/.stamp"          # what the outputs were built from (packages + script)
FAST_STAMP="$OUT_DIR/.stamp-apt" # script + apt package lists as they were when checked

print_outputs() {
    local f
    printf 'Linux guest for molt (kernel %s):\n' "$(sed -n 's/^kernel_release=//p' "$OUT_DIR/manifest.txt")"
    for f in "${OUTPUTS[@]}"; do printf '  %s\n' "$OUT_DIR/$f"; done
}

outputs_present() {
    local f
    for f in "${OUTPUTS[@]}"; do [[ -s "$OUT_DIR/$f" ]] || return 1; done
    [[ -f "$STAMP" ]]
}

# Cheap fingerprint of this script, the pin and apt's package lists: while it
# is unchanged, apt would resolve the same packages, so nothing needs asking.
fast_key() {
    {
        sha256sum "${BASH_SOURCE[0]}"
        printf 'pin=%s out=%s\n' "${MOLT_LINUX_KERNEL_PKG:-}" "$OUT_DIR"
        stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
}

main() {
    local script_sum fast
    if ! command -v apt-get >/dev/null || ! command -v apt-cache >/dev/null || ! command -v dpkg-deb >/dev/null; then
        die "this script needs a Debian-like host with apt-get, apt-cache and dpkg-deb"
    fi
    script_sum=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
    fast=$(fast_key)
    if [[ -z "${MOLT_LINUX_FORCE:-}" ]] && outputs_present && [[ -f "$FAST_STAMP" && "$(cat "$FAST_STAMP")" == "$fast" ]]; then
        log "up to date (cached; set MOLT_LINUX_FORCE=1 to rebuild)"
        print_outputs
        return 0
    fi

    if ! resolve_packages; then
        if outputs_present && [[ -z "${MOLT_LINUX_FORCE:-}" ]]; then
            warn "apt does not know $META_PKG / $BUSYBOX_PKG right now (no package lists?); keeping the previous build"
            print_outputs
            return 0
        fi
        apt_update_once || true
        if ! resolve_packages; then
            if [[ -z "$KERNEL_PKG" ]]; then
                die "apt cannot find package '$META_PKG' (or the linux-image-6.x.y-amd64 package it depends on); check /etc/apt/sources.list and run apt-get update"
            elif [[ -z "$KERNEL_VER" ]]; then
                die "apt cannot find package '$KERNEL_PKG'${MOLT_LINUX_KERNEL_PKG:+ (set by MOLT_LINUX_KERNEL_PKG)}; check /etc/apt/sources.list and run apt-get update"
            else
                die "apt cannot find package '$BUSYBOX_PKG'; check /etc/apt/sources.list and run apt-get update"
            fi
        fi
    fi

    local key="kernel=$KERNEL_PKG=$KERNEL_VER busybox=$BUSYBOX_PKG=$BUSYBOX_VER script=$script_sum"
    if [[ -z "${MOLT_LINUX_FORCE:-}" ]] && outputs_present && [[ "$(cat "$STAMP")" == "$key" ]]; then
        log "up to date ($KERNEL_PKG $KERNEL_VER, $BUSYBOX_PKG $BUSYBOX_VER)"
        printf '%s' "$fast" >"$FAST_STAMP"
        print_outputs
        return 0
    fi

    ensure_tools
    mkdir -p "$CACHE_DIR" "$OUT_DIR"
    TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/molt-linux.XXXXXX")

    log "kernel package: $KERNEL_PKG $KERNEL_VER (${MOLT_LINUX_KERNEL_PKG:+pinned by MOLT_LINUX_KERNEL_PKG}${MOLT_LINUX_KERNEL_PKG:-from $META_PKG}); busybox: $BUSYBOX_PKG $BUSYBOX_VER"
    local kdeb bdeb kdir bdir
    kdeb=$(fetch_deb "$KERNEL_PKG" "$KERNEL_VER")
    bdeb=$(fetch_deb "$BUSYBOX_PKG" "$BUSYBOX_VER")
    kdir=$(extract_deb "$kdeb")
    bdir=$(extract_deb "$bdeb")

    # Kernel image: exactly one /boot/vmlinuz-* is expected.
    local -a images=("$kdir"/boot/vmlinuz-*)
    [[ -f "${images[0]}" ]] || die "package $KERNEL_PKG has no /boot/vmlinuz-* file"
    [[ ${#images[@]} -eq 1 ]] || die "package $KERNEL_PKG has several /boot/vmlinuz-* files: ${images[*]}"
    local release=${images[0]##*/vmlinuz-}
    local busybox="$bdir/bin/busybox"
    [[ -x "$busybox" ]] || die "package $BUSYBOX_PKG has no executable /bin/busybox"

    rm -f -- "$STAMP" "$FAST_STAMP"
    install -m 0644 "${images[0]}" "$OUT_DIR/bzImage.tmp"
    mv -f -- "$OUT_DIR/bzImage.tmp" "$OUT_DIR/bzImage"

    log "extracting vmlinux from bzImage"
    extract_vmlinux "$OUT_DIR/bzImage" "$OUT_DIR/vmlinux.tmp"
    PVH_ENTRY=''
    verify_vmlinux "$OUT_DIR/vmlinux.tmp"
    mv -f -- "$OUT_DIR/vmlinux.tmp" "$OUT_DIR/vmlinux"
    log "vmlinux: $(file -b "$OUT_DIR/vmlinux" | cut -d, -f1-2); PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) at $PVH_ENTRY"

    log "building initramfs"
    build_initramfs "$busybox" "$OUT_DIR/initramfs.cpio.gz"

    printf '%s\n' "$CMDLINE" >"$OUT_DIR/cmdline.txt"
    cat >"$OUT_DIR/manifest.txt" <<EOF
kernel_release=$release
kernel_package=$KERNEL_PKG
kernel_package_version=$KERNEL_VER
busybox_package=$BUSYBOX_PKG
busybox_package_version=$BUSYBOX_VER
pvh_entry=$PVH_ENTRY
bzImage_sha256=$(sha256sum "$OUT_DIR/bzImage" | cut -d' ' -f1)
vmlinux_sha256=$(sha256sum "$OUT_DIR/vmlinux" | cut -d' ' -f1)
initramfs_sha256=$(sha256sum "$OUT_DIR/initramfs.cpio.gz" | cut -d' ' -f1)
cmdline=$CMDLINE
EOF
    printf '%s' "$key" >"$STAMP"
    printf '%s' "$fast" >"$FAST_STAMP"
    print_outputs
}

main "$@"
