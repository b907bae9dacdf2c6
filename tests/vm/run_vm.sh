#!/usr/bin/env bash
# Boot a throw-away QEMU guest (TCG) with four emulated Intel 82576 NICs on two wires, run one
# shell command in it as root, and exit with that command's exit code.
#
#   tests/vm/run_vm.sh "cd /work/main && python3 -m pytest tests/vm/guest_intel.py"
#
# The guest sees the host's / read-only over 9p (so the repository, Python and its packages
# are the host's own files), tmpfs on /tmp, hugetlbfs on /dev/hugepages. Its kernel comes from
# /boot (tools/setup_vm.sh installs one). Wire 1 joins 0000:00:0a.0 and 0000:00:06.0, wire 2
# joins 0000:00:0c.0 and 0000:00:08.0 (a QEMU hub with two ports each): the switch under test
# owns 0a and 0c, and 06 and 08 stand for the hosts on either side. Each igb reserves the slots
# 16 and 17 above its own for its SR-IOV functions, hence the spaced, low addresses. A virtual IOMMU is present, in passthrough mode for devices no driver claims
# (so physical addresses work) and translating for vfio-pci. Exit code 99: the guest never
# reported one (timeout, crash).
# Environment: VM_MEM (2G), VM_SMP (2), VM_TIMEOUT (seconds, 300), VM_KERNEL (newest /boot/vmlinuz-*).
set -euo pipefail
cmd=${1:?usage: run_vm.sh "COMMAND"}
kernel=${VM_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
[[ -n "$kernel" && -r "$kernel" ]] || { echo "run_vm: no guest kernel in /boot (run tools/setup_vm.sh)" >&2; exit 98; }
kver=${kernel#/boot/vmlinuz-}
command -v qemu-system-x86_64 >/dev/null || { echo "run_vm: qemu-system-x86_64 missing (run tools/setup_vm.sh)" >&2; exit 98; }
busybox=$(command -v busybox) || { echo "run_vm: busybox missing (run tools/setup_vm.sh)" >&2; exit 98; }

work=$(mktemp -d /tmp/kvick-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/initramfs
mkdir -p "$root"/{bin,proc,sys,dev,newroot,mods}
cp "$busybox" "$root/bin/busybox"
# The modules needed to mount the host's root over virtio-9p, in dependency order.
: > "$root/modules"
for line in $(for m in virtio_pci 9pnet_virtio 9p; do modprobe -S "$kver" --show-depends "$m"; done \
                | awk '$1 == "insmod" {print $2}'); do
    name=$(basename "$line")
    if [[ $name == *.xz ]]; then xz -dc "$line" > "$root/mods/${name%.xz}"; name=${name%.xz}
    elif [[ $name == *.zst ]]; then zstd -qdc "$line" > "$root/mods/${name%.zst}"; name=${name%.zst}
    else cp "$line" "$root/mods/$name"; fi
    grep -qx "$name" "$root/modules" || echo "$name" >> "$root/modules"
done
printf '%s' "$cmd" > "$root/cmd"
# The repository and ../shared. The guest puts a tmpfs on /tmp and /run; a checkout living
# under one of them (CI clones anywhere) is carried over that mount.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: > "$root/keep"
for dir in "$repo" "$(dirname "$repo")/shared"; do
    case "$dir" in /tmp/*|/run/*) [ -d "$dir" ] && [ ! -L "$dir" ] && echo "$dir" >> "$root/keep" ;; esac
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /mods/$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /newroot || echo "init: 9p mount failed"
for d in proc sys dev; do mount --move /$d /newroot/$d; done
n=0
for dir in $(cat /keep); do
    n=$((n + 1)); mkdir -p /keep$n && mount --bind "/newroot$dir" /keep$n
done
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
n=0
for dir in $(cat /keep); do
    n=$((n + 1)); mkdir -p "/newroot$dir" && mount --move /keep$n "/newroot$dir"
done
mkdir -p /newroot/dev/hugepages && mount -t hugetlbfs none /newroot/dev/hugepages
chroot /newroot /bin/sh -c "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp; $(cat /cmd)"
echo "=== VM-EXIT-CODE $?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

set +e
timeout "${VM_TIMEOUT:-300}" qemu-system-x86_64 \
    -accel tcg -machine q35 -cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-2G}" \
    -display none -monitor none -no-reboot -nodefaults -serial stdio \
    -device intel-iommu,intremap=on,caching-mode=on \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 rdinit=/init intel_iommu=on iommu=pt" \
    -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
    -netdev hubport,id=n0,hubid=0 -device igb,netdev=n0,addr=0x0a,mac=52:54:00:00:00:0a \
    -netdev hubport,id=n1,hubid=0 -device igb,netdev=n1,addr=0x06,mac=52:54:00:00:00:06 \
    -netdev hubport,id=n2,hubid=1 -device igb,netdev=n2,addr=0x0c,mac=52:54:00:00:00:0c \
    -netdev hubport,id=n3,hubid=1 -device igb,netdev=n3,addr=0x08,mac=52:54:00:00:00:08 \
    < /dev/null 2>&1 | tee "$work/console.log" | grep -v "hub [01] is not connected"
set -e
rc=$(sed -n 's/.*=== VM-EXIT-CODE \([0-9]*\).*/\1/p' "$work/console.log" | tail -1)
exit "${rc:-99}"
