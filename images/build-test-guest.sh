#!/usr/bin/env bash
# Builds vnx's tiny test guest from Debian packages only: the kernel of linux-image-cloud-amd64
# and an initramfs holding busybox-static, the virtio modules and vnx's guest agent. Output:
# OUT/vmlinuz and OUT/initrd.img (OUT defaults to /var/cache/vnx/test-guest). Cached: does
# nothing when both are newer than this script and the agent. Needs: linux-image-cloud-amd64,
# busybox-static, cpio, gzip. Takes about a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-/var/cache/vnx/test-guest}"
kver="$(ls /usr/lib/modules | grep -- '-cloud-amd64$' | sort -V | tail -1)"
[ -n "$kver" ] || { echo "linux-image-cloud-amd64 is not installed" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "busybox-static is not installed" >&2; exit 1; }
mkdir -p "$out"
# One build at a time (tests build it in parallel); the others then find it made.
exec 9>"$out/.lock"
flock 9
if [ -f "$out/initrd.img" ] && [ "$out/initrd.img" -nt "$0" ] && [ "$out/initrd.img" -nt "$here/guest-agent.sh" ]; then
  exit 0
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,config,lib/modules,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
m="/usr/lib/modules/$kver/kernel"
# In load order: each after what it needs (modules.dep).
for ko in drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_pci_legacy_dev.ko \
          drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko net/core/failover.ko \
          drivers/net/net_failover.ko drivers/net/virtio_net.ko drivers/block/virtio_blk.ko \
          drivers/char/virtio_console.ko drivers/cdrom/cdrom.ko fs/isofs/isofs.ko; do
  f="$m/$ko"; [ -f "$f" ] || f="$f.xz"
  cp "$f" "$root/lib/modules/"
  basename "$f" >> "$root/lib/modules/order"
done
cp "$here/guest-agent.sh" "$root/bin/vnx-agent"
chmod +x "$root/bin/vnx-agent"
cat > "$root/init" <<'INIT'
#!/bin/sh
# PID 1 of vnx's test guest: modules, the configuration drive, then the agent.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
ip link set lo up
exec /bin/vnx-agent boot
INIT
chmod +x "$root/init"
tmp="$(mktemp "$out/initrd.XXXXXX")"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$tmp"
cp "/boot/vmlinuz-$kver" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
chmod 644 "$tmp"
mv "$tmp" "$out/initrd.img"
echo "test guest: $out/vmlinuz $out/initrd.img (kernel $kver)"
