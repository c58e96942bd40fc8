#!/bin/bash
# Build (once) the Debian 12 root file system image the check-system lane
# boots (issue 14): debootstrap from the Debian archive, systemd as init,
# the packages in tests/system/packages, and a hook unit that runs the
# lane's test script from a second disk.
#   system-image.sh            print the cache directory, building it if missing
# The image lives outside the clone, in $CRYPTSNAP_SYSTEM_CACHE (default
# /var/cache/cryptsnap/system-root)/<hash>/, keyed by a hash of the
# package list and of this script; it holds root.img (ext4, raw),
# vmlinuz and initrd.img (the image's own kernel and initramfs).
# Must run as root (debootstrap).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${CRYPTSNAP_MIRROR:-http://deb.debian.org/debian}
CACHE=${CRYPTSNAP_SYSTEM_CACHE:-/var/cache/cryptsnap/system-root}
LIST=$TOP/tests/system/packages

key=$(cat "$LIST" "$0" | sha256sum | cut -c1-16)
out=$CACHE/$key
if [ -f "$out/root.img" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	echo "$out"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "system-image: must run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "system-image: debootstrap missing (make deps)" >&2; exit 1; }

mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/build.XXXXXX")
root=$tmp/root
cleanup() {
	local m
	for m in dev/pts dev proc sys; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

pkgs=$(sed 's/#.*//' "$LIST" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
echo "system-image: debootstrap bookworm into $root (log: $tmp/debootstrap.log)" >&2
if ! debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$MIRROR" \
	>"$tmp/debootstrap.log" 2>&1; then
	tail -n 30 "$tmp/debootstrap.log" >&2
	[ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
	echo "system-image: debootstrap failed" >&2
	exit 1
fi

# The system: root on the first virtio disk, no network, serial console.
echo cryptsnap-system >"$root/etc/hostname"
printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null
# Nothing periodic but what the lane starts.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The hook: a disk labelled CSTEST carries the tree and the test script.
install -m 0755 /dev/stdin "$root/usr/local/sbin/cryptsnap-system-hook" <<'HOOK'
#!/bin/bash
# Mount the lane's disk (label CSTEST) and run its script; TAP goes to
# the second serial port.
mkdir -p /srv/cstest
mountpoint -q /srv/cstest || mount LABEL=CSTEST /srv/cstest || exit 0
exec bash /srv/cstest/run.sh >/dev/ttyS1 2>&1
HOOK
cat >"$root/etc/systemd/system/cryptsnap-system-test.service" <<'UNIT'
[Unit]
Description=cryptsnap check-system test steps
After=multi-user.target
ConditionPathExists=/dev/disk/by-label/CSTEST

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cryptsnap-system-hook
StandardOutput=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable cryptsnap-system-test.service >/dev/null 2>&1

kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
[ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] ||
	{ echo "system-image: no kernel in the image" >&2; exit 1; }
[ -f "$root/boot/initrd.img-$kver" ] || chroot "$root" update-initramfs -c -k "$kver" >/dev/null
cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$tmp/initrd.img"
echo "$kver" >"$tmp/kver"
cp "$LIST" "$tmp/packages"
rm -rf "$root/var/cache/apt/archives/"*.deb

echo "system-image: making root.img" >&2
truncate -s 6G "$tmp/root.img"
mkfs.ext4 -q -F -L csroot -d "$root" "$tmp/root.img"
mkdir -p "$out"
mv "$tmp/vmlinuz" "$tmp/initrd.img" "$tmp/kver" "$tmp/packages" "$tmp/root.img" "$out/"
echo "$out"
