#!/bin/bash
# Pack the test VM's initramfs for one kernel release:
#   mkinitramfs.sh KVER OUT.cpio.zst
# Contents: busybox (applets), the host's own dmsetup/cryptsetup/fio/e2fsprogs
# and coreutils with their shared libraries, kmod, the kernel modules the
# tests need (with a depmod'ed modules.dep so the kernel's request_module
# works), dm-cryptsnap.ko, the cryptsnap tool, tests/ and bench/.
# CRYPTSNAP_KROOT, when set, names a kernel built outside /lib/modules (the
# debug-kernel lane, scripts/debug-kernel.sh): its modules are taken from
# $CRYPTSNAP_KROOT/mods/lib/modules/KVER.  A module the tests load that is
# built into that kernel is found by modprobe through modules.builtin.
set -euo pipefail

KVER=$1
OUT=$2
TOP=$(cd "$(dirname "$0")/.." && pwd)
KO=$TOP/build/$KVER/dm-cryptsnap.ko
TOOL=$TOP/userspace/cryptsnap

[ -f "$KO" ] || { echo "mkinitramfs: $KO missing (make modules)" >&2; exit 1; }
[ -x "$TOOL" ] || { echo "mkinitramfs: $TOOL missing (make tool)" >&2; exit 1; }
MODSRC=${CRYPTSNAP_KROOT:+$CRYPTSNAP_KROOT/mods}/lib/modules/$KVER
[ -d "$MODSRC/kernel" ] || [ -f "$MODSRC/modules.builtin" ] ||
	{ echo "mkinitramfs: kernel $KVER not installed in ${MODSRC%/lib/modules/*}/ (make deps)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# Real binaries the tests rely on (busybox fills in the rest).
BINS=(
	/bin/bash /usr/sbin/dmsetup /usr/sbin/cryptsetup /usr/bin/fio
	/usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/blockdev /usr/sbin/losetup
	/usr/bin/kmod /usr/bin/dd /usr/bin/cmp /usr/bin/sha256sum /usr/bin/md5sum
	/usr/bin/stat /usr/bin/truncate /usr/bin/od /usr/bin/timeout
	/usr/bin/sort /usr/bin/seq /usr/bin/head /usr/bin/tail /usr/bin/sync
	/usr/sbin/blkdiscard /usr/bin/fallocate /usr/sbin/fsfreeze
	/usr/bin/awk /usr/bin/mawk /usr/bin/sed /usr/bin/grep /usr/bin/find
	/usr/bin/xargs /usr/bin/date /usr/bin/tr /usr/bin/wc /usr/bin/cut
	/usr/bin/dmesg /usr/bin/mount /usr/bin/umount /usr/bin/pkill /usr/bin/pgrep
	/usr/sbin/mkfs.xfs
	/usr/bin/sqlite3 /usr/bin/git
	${CRYPTSNAP_EXTRA_BINS:-}
)
# Module names the tests load explicitly; dependencies follow via modprobe.
MODS=(virtio_pci virtio_blk loop dm-mod dm-crypt dm-era dm-snapshot dm-flakey
	dm-delay dm-zero ext4 crc32c_generic crc32c-intel xts aesni-intel
	af_alg algif_skcipher algif_hash sha256_ssse3 cbc essiv)
# Module directories packed whole so request_module() finds ciphers and
# hashes by alias.
MODDIRS=(kernel/crypto kernel/arch/x86/crypto kernel/drivers/md
	kernel/drivers/block kernel/drivers/virtio kernel/fs/ext4
	kernel/fs/jbd2 'kernel/fs/mbcache.ko*' kernel/lib kernel/fs/xfs)

mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,tmp,run/cryptsetup,etc,mnt,root,cryptsnap}
ln -s usr/lib "$STAGE/usr/lib64" 2>/dev/null || true

copy_with_libs() {
	local f=$1 lib
	[ -e "$f" ] || { echo "mkinitramfs: missing $f" >&2; return 1; }
	mkdir -p "$STAGE$(dirname "$f")"
	cp -L "$f" "$STAGE$f"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
		[ -e "$STAGE$lib" ] && continue
		mkdir -p "$STAGE$(dirname "$lib")"
		cp -L "$lib" "$STAGE$lib"
	done
}

for b in "${BINS[@]}"; do copy_with_libs "$b"; done
copy_with_libs "$TOOL"
mv "$STAGE$TOOL" "$STAGE/usr/bin/cryptsnap"
rm -rf "${STAGE:?}/work" 2>/dev/null || true
mkdir -p "$STAGE/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$STAGE/lib64/"

# Busybox applets only where no real binary was packed.
cp /bin/busybox "$STAGE/bin/busybox"
for applet in $(/bin/busybox --list); do
	for d in bin sbin usr/bin usr/sbin; do
		[ -e "$STAGE/$d/$applet" ] && continue 2
	done
	ln -s busybox "$STAGE/bin/$applet"
done
for t in modprobe insmod rmmod lsmod depmod modinfo; do
	rm -f "$STAGE/bin/$t" "$STAGE/sbin/$t"
	ln -s ../usr/bin/kmod "$STAGE/sbin/$t"
done
ln -sf mke2fs "$STAGE/usr/sbin/mkfs.ext4"
ln -sf e2fsck "$STAGE/usr/sbin/fsck.ext4"

# Kernel modules.
MODROOT=$STAGE/lib/modules/$KVER
mkdir -p "$MODROOT/extra"
for d in "${MODDIRS[@]}"; do
	for p in "$MODSRC"/$d; do	# unquoted: entries may be globs
		[ -e "$p" ] || continue
		r=${p#"$MODSRC"/}
		mkdir -p "$MODROOT/$(dirname "$r")"
		cp -a "$p" "$MODROOT/$r"
	done
done
cp "$MODSRC"/modules.{order,builtin,builtin.modinfo} "$MODROOT/" 2>/dev/null || true
cp "$KO" "$MODROOT/extra/dm-cryptsnap.ko"
depmod -b "$STAGE" "$KVER"
printf '%s\n' "${MODS[@]}" >"$STAGE/cryptsnap/modules"

# Payload: tests, benchmarks, init.
cp -a "$TOP/tests" "$TOP/bench" "$STAGE/cryptsnap/" 2>/dev/null || cp -a "$TOP/tests" "$STAGE/cryptsnap/"
install -m 0755 "$TOP/tests/vm/init" "$STAGE/init"
echo "root:x:0:0:root:/root:/bin/bash" >"$STAGE/etc/passwd"
echo "root:x:0:" >"$STAGE/etc/group"
: >"$STAGE/etc/fstab"

(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet) | zstd -q -T0 -3 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
