#!/bin/bash
# Issue 2: LUKS1 and LUKS2 opened on top of the cryptsnap target behave
# exactly like plain dm-crypt: fio verify passes, and the ciphertext that
# reaches the backing device is byte-identical to plain dm-crypt's.
. "$(dirname "$0")/lib.sh"

DEV=/dev/vda
KEY=/tmp/10.key
printf 'correct horse battery staple' >"$KEY"
head -c $((8 << 20)) /dev/urandom >/tmp/10.plain

# Writes /tmp/10.plain at 1 MiB into the opened mapping $1, then saves
# the ciphertext of that range as seen on the backing device to $2.
write_and_capture() {
	local map=$1 out=$2 off
	dd if=/tmp/10.plain of=/dev/mapper/$map bs=1M seek=1 oflag=direct conv=fsync status=none || return 1
	off=$(cryptsetup luksDump "$DEV" | awk '/^Payload offset:/ {print $3} /offset:.*\[bytes\]/ && !o {o=$2/512; print o}' | head -n1)
	dd if="$DEV" of="$out" bs=512 skip=$((off + 2048)) count=$((8 << 11)) iflag=direct status=none
}

for luks in luks1 luks2; do
	t_wipe "$DEV"
	cryptsetup luksFormat --type "$luks" "${LUKS_FAST[@]}" --key-file "$KEY" "$DEV" >/dev/null 2>&1 ||
		{ t_fail "$luks: luksFormat"; continue; }
	sz=$(t_sectors "$DEV")
	t_check "$luks: create cryptsnap over $DEV" dmsetup create cs10 --table "0 $sz cryptsnap $DEV 128"
	t_cleanup_add "dmsetup remove cs10"
	t_check "$luks: open on top of the target" cryptsetup open --key-file "$KEY" /dev/mapper/cs10 c10
	t_cleanup_add "cryptsetup close c10"

	t_check "$luks: fio randwrite+verify through dm-crypt over target" \
		fio --name=verify --filename=/dev/mapper/c10 --rw=randwrite --bs=4k \
		--size=48M --ioengine=libaio --iodepth=16 --direct=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0
	t_check "$luks: fio mixed sizes seq write+verify" \
		fio --name=verify2 --filename=/dev/mapper/c10 --rw=write --bsrange=512-256k \
		--offset=64M --size=32M --ioengine=libaio --iodepth=8 --direct=1 \
		--verify=md5 --do_verify=1 --verify_fatal=1
	t_check "$luks: flush and discard pass through" bash -c \
		"blkdiscard -o 0 -l 1048576 /dev/mapper/c10 2>/dev/null || true; sync; blockdev --flushbufs /dev/mapper/c10"

	write_and_capture c10 /tmp/10.cs.bin || t_fail "$luks: write through target"
	cryptsetup close c10; dmsetup remove cs10; t_cleanup

	t_check "$luks: open plain dm-crypt on the backing device" cryptsetup open --key-file "$KEY" "$DEV" p10
	t_cleanup_add "cryptsetup close p10"
	t_check "$luks: plain dm-crypt reads what went through the target" bash -c \
		"dd if=/dev/mapper/p10 bs=1M skip=1 count=8 iflag=direct status=none | cmp - /tmp/10.plain"
	write_and_capture p10 /tmp/10.plain.bin || t_fail "$luks: write through plain"
	t_check "$luks: same ciphertext bytes as plain dm-crypt" cmp /tmp/10.cs.bin /tmp/10.plain.bin
	t_check "$luks: ciphertext is not the plaintext" bash -c "! cmp -s /tmp/10.cs.bin /tmp/10.plain"
	t_cleanup
done
rm -f /tmp/10.*
