# Sourced by molt's scripts. molt_kvm_usable: succeeds if /dev/kvm opens read-write and answers
# KVM_GET_API_VERSION with 12, as molt itself requires; otherwise sets molt_kvm_why to the reason.
# (A /dev/kvm bind-mounted over /dev/null, or absent, or not ours to open, is not usable.)
molt_kvm_usable() {
  molt_kvm_why=$(python3 - <<'PY' 2>&1
import fcntl, os, sys
try:
    fd = os.open("/dev/kvm", os.O_RDWR)
except OSError as e:
    sys.exit("/dev/kvm cannot be opened: " + e.strerror)
try:
    version = fcntl.ioctl(fd, 0xAE00)  # KVM_GET_API_VERSION
except OSError as e:
    sys.exit("/dev/kvm does not answer KVM_GET_API_VERSION: " + e.strerror)
if version != 12:
    sys.exit("/dev/kvm speaks KVM API version %d, molt needs 12" % version)
PY
  ) && return 0
  return 1
}
