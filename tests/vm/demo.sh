#!/bin/bash
# `make demo`: the main job, told step by step, inside the test VM.
# Grows with the product; today it shows the cryptsnap target stacked
# live underneath an open, mounted LUKS2 disk.
set -u
DEV=/dev/vda
KEY=/tmp/demo.key
step=0
say() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
die() { echo "demo: FAILED: $*"; exit 1; }

printf 'demo passphrase' >"$KEY"
say "Format $DEV as LUKS2 and open it as 'disk' (plain dm-crypt, as on any VM)"
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$KEY" "$DEV" >/dev/null 2>&1 || die "luksFormat"
cryptsetup open --disable-keyring --key-file "$KEY" "$DEV" disk || die "open"
mkfs.ext4 -q -F /dev/mapper/disk && mkdir -p /mnt/disk && mount /dev/mapper/disk /mnt/disk || die "mkfs/mount"
dmsetup table disk | sed 's/ [0-9a-f]\{64,\} / <key> /; s/^/    /'

say "Write files while the disk is mounted"
for i in 1 2 3; do head -c 4M /dev/urandom >/mnt/disk/file$i; done
sync
(cd /mnt/disk && sha256sum file*) | tee /tmp/demo.sums | sed 's/^/    /'

say "Stack the cryptsnap target under the live mapping (reload, suspend, resume)"
sz=$(blockdev --getsz "$DEV")
dmsetup create disk-cs --table "0 $sz cryptsnap $DEV 128" || die "create target"
maj=$(stat -L -c '%t' "$DEV") min=$(stat -L -c '%T' "$DEV")
orig="$((16#$maj)):$((16#$min))"
new=$(dmsetup info -c --noheadings -o major,minor disk-cs | tr -d ' ')
dmsetup table --showkeys disk | awk -v o="$orig" -v n="$new" '{for (i=1;i<=NF;i++) if ($i==o) $i=n; print}' >/tmp/demo.table
start=$(date +%s%N)
dmsetup reload disk /tmp/demo.table && dmsetup suspend disk && dmsetup resume disk || die "swap"
echo "    swapped in $(( ($(date +%s%N) - start) / 1000000 )) ms, filesystem stayed mounted"
dmsetup ls --tree | sed 's/^/    /'

say "Keep writing through the target, then read everything back"
head -c 8M /dev/urandom >/mnt/disk/file4 && sync
(cd /mnt/disk && sha256sum file4) >>/tmp/demo.sums
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/disk && sha256sum -c /tmp/demo.sums) | sed 's/^/    /' || die "checksums"
echo "    target status: $(dmsetup status disk-cs)"

say "Unmount, close, check the filesystem"
umount /mnt/disk && cryptsetup close disk && dmsetup remove disk-cs || die "teardown"
cryptsetup open --key-file "$KEY" "$DEV" disk && e2fsck -fn /dev/mapper/disk >/dev/null 2>&1 &&
	echo "    fsck: clean" || die "fsck"
cryptsetup close disk
echo
echo "demo: OK"
