#!/bin/bash
# Issue 3: COW full and COW I/O errors make the snapshot invalid (status
# says why, view reads fail, commit refused) while the writes above go
# on unharmed and no change is lost from tracking.
. "$(dirname "$0")/2lib.sh"

CS_CHUNK=128
SZ=$((128 << 11))
COWSZ=$((64 << 11))
t_wipe /dev/vda
t_wipe /dev/vdd
dmsetup create l22 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear backing"; exit 1; }
t_cleanup_add "dmsetup remove l22"
dmsetup create cs22 --table "0 $SZ cryptsnap /dev/mapper/l22 $CS_CHUNK" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs22"
t_cleanup_add "dmsetup remove v22"
t_cleanup_add "cs_msg cs22 snap_drop"
D=/dev/mapper/cs22
exp=/tmp/22.exp got=/tmp/22.got

# $1 = full|ioerr: make the COW device, take a snapshot, write 40 chunks
# that do not all fit or cannot be written, check the rules.
fail_case() {
	local mode=$1 c
	if [ "$mode" = full ]; then
		# 16 chunks of room.
		dmsetup create cow22 --table "0 2048 linear /dev/vdd 0"
	else
		dmsetup create cow22 --table "0 $COWSZ linear /dev/vdd 0"
	fi
	t_cleanup_add "dmsetup remove cow22"
	: >"$exp"
	for c in 1 2 3; do cs_touch $D $c; echo $c >>"$exp"; done
	cs_msg cs22 snap_take /dev/mapper/cow22 || { t_fail "$mode: snap_take"; return; }
	dmsetup create --readonly v22 --table "0 $SZ cryptsnap-view $D" ||
		{ t_fail "$mode: view"; return; }
	cs_touch $D 5
	t_check "$mode: view readable before the failure" \
		dd if=/dev/mapper/v22 of=/dev/null bs=64k iflag=direct status=none
	if [ "$mode" = ioerr ]; then
		dmsetup suspend cow22
		dmsetup reload cow22 --table "0 $COWSZ error"
		dmsetup resume cow22
	fi
	head -c $((40 * 65536)) /dev/urandom >/tmp/22.data
	t_check "$mode: 40 chunks written through the origin, no error" \
		dd if=/tmp/22.data of=$D bs=64k seek=100 oflag=direct conv=fsync status=none
	t_check "$mode: data written reads back" bash -c \
		"dd if=$D bs=64k skip=100 count=40 iflag=direct status=none | cmp - /tmp/22.data"
	local want=$([ "$mode" = full ] && echo cow_full || echo cow_io_error)
	t_check "$mode: snapshot invalid:$want" test "$(cs_state cs22)" = "invalid:$want"
	t_check "$mode: view status says invalid" \
		test "$(dmsetup status v22 | awk '{print $4}')" = "invalid:$want"
	t_refuse "$mode: view read fails (EIO)" \
		dd if=/dev/mapper/v22 of=/dev/null bs=64k count=1 iflag=direct status=none
	t_refuse "$mode: a new view of an invalid snapshot is refused" \
		dmsetup create --readonly v22b --table "0 $SZ cryptsnap-view $D"
	t_refuse "$mode: commit of an invalid snapshot is refused" cs_msg cs22 commit
	t_check "$mode: live map holds every chunk written after the snapshot" \
		test "$(cs_changed cs22)" = 41
	dmsetup remove v22
	t_check "$mode: snap_drop without commit" cs_msg cs22 snap_drop
	dmsetup remove cow22
	echo 5 >>"$exp"; seq 100 139 >>"$exp"
	cs_msg cs22 snap_take /dev/vdc
	cs_changes cs22 >"$got"
	t_check "$mode: next change set has old and new changes, exactly" cs_same_set "$exp" "$got"
	cs_msg cs22 commit
	cs_msg cs22 snap_drop
}
fail_case full
fail_case ioerr
dmsetup remove cs22

# The same under dm-crypt and ext4: the file system never notices.
KEY=/tmp/22.key
printf 'failure rules' >"$KEY"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" /dev/mapper/l22 >/dev/null 2>&1
dmsetup create cs22 --table "0 $SZ cryptsnap /dev/mapper/l22 $CS_CHUNK"
cryptsetup open --key-file "$KEY" $D c22 || { t_fail "crypt open"; exit 1; }
t_cleanup_add "cryptsetup close c22"
mkfs.ext4 -q /dev/mapper/c22 && mkdir -p /mnt/22 && mount /dev/mapper/c22 /mnt/22 ||
	{ t_fail "mkfs/mount"; exit 1; }
t_cleanup_add "umount /mnt/22"
for mode in full ioerr; do
	if [ $mode = full ]; then
		dmsetup create cow22 --table "0 2048 linear /dev/vdd 0"
	else
		dmsetup create cow22 --table "0 $COWSZ error"
	fi
	dmsetup suspend c22      # freezes ext4 and drains writes
	cs_msg cs22 snap_take /dev/mapper/cow22; rc=$?
	dmsetup resume c22
	t_check "ext4/$mode: snap_take under a mounted file system" test $rc = 0
	t_check "ext4/$mode: 24 MiB of files written and synced" bash -c \
		"dd if=/dev/urandom of=/mnt/22/f-$mode bs=1M count=24 conv=fsync status=none && sync"
	t_check "ext4/$mode: snapshot invalid" bash -c "dmsetup status cs22 | grep -q ' invalid:'"
	cs_msg cs22 snap_drop
	dmsetup remove cow22
done
umount /mnt/22
t_check "ext4: fsck clean after both failures" e2fsck -fn /dev/mapper/c22
t_cleanup
rm -f /tmp/22.*
exit 0
