#!/usr/bin/env bash
# Install what the Intel driver's VM suite needs on a fresh Debian 12 machine (run as root):
# QEMU >= 8 from bookworm-backports (its igb model), busybox-static for the guest's initramfs,
# pciutils, and a Debian guest kernel with modules (igb, vfio-pci, 9p). Idempotent: on a prepared
# machine it only checks and returns.
set -euo pipefail

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }

have_qemu() {
    command -v qemu-system-x86_64 >/dev/null || return 1
    local major
    major=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -1)
    [[ -n "$major" && "$major" -ge 8 ]]
}
have_kernel() { compgen -G "/boot/vmlinuz-*" >/dev/null && compgen -G "/lib/modules/*/kernel/drivers/vfio" >/dev/null; }

if have_qemu && have_kernel && command -v busybox >/dev/null && command -v setpci >/dev/null; then
    echo "setup_vm: already prepared"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "setup_vm: must run as root to install QEMU and a guest kernel" >&2
    exit 1
fi

backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [[ ! -e $backports ]]; then
    # The machine's own Debian mirror and keyring, suite bookworm-backports.
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    uri=${uri:-http://deb.debian.org/debian}
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "$uri" /usr/share/keyrings/debian-archive-keyring.gpg > "$backports"
fi
apt_get update -qq
# busybox-static before the kernel: installing it afterwards rebuilds the kernel's initramfs.
apt_get install -y -qq --no-install-recommends busybox-static pciutils kmod >/dev/null
apt_get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
apt_get install -y -qq --no-install-recommends linux-image-amd64 >/dev/null
if ! have_qemu; then
    echo "setup_vm: qemu-system-x86_64 >= 8 is still missing after install" >&2
    exit 1
fi
if ! have_kernel; then
    echo "setup_vm: no guest kernel with modules in /boot and /lib/modules after install" >&2
    exit 1
fi
echo "setup_vm: $(qemu-system-x86_64 --version | head -1); kernel $(ls /boot/vmlinuz-* | tail -1)"
