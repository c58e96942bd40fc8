#!/bin/bash
# Issue 3: a snapshot taken while fio writes through dm-crypt shows, byte
# for byte, the backing device as it was at the snapshot moment, while
# writes continue for the whole read; the view also opens with the LUKS
# key and holds the same plaintext.
. "$(dirname "$0")/2lib.sh"

KEY=/tmp/21.key
printf 'snapshot consistency' >"$KEY"
SZ=$((160 << 11))
t_wipe /dev/vda
dmsetup create l21 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear backing"; exit 1; }
t_cleanup_add "dmsetup remove l21"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" /dev/mapper/l21 >/dev/null 2>&1 ||
	{ t_fail "luksFormat"; exit 1; }
t_check "cryptsnap under the LUKS device" \
	dmsetup create cs21 --table "0 $SZ cryptsnap /dev/mapper/l21 128"
t_cleanup_add "dmsetup remove cs21"
t_check "open dm-crypt on top" cryptsetup open --key-file "$KEY" /dev/mapper/cs21 c21
t_cleanup_add "cryptsetup close c21"
t_cleanup_add "cs_msg cs21 snap_drop"

# Some data before the snapshot, so old data is not all zeroes.
fio --name=pre --filename=/dev/mapper/c21 --rw=write --bs=1M --size=96M \
	--ioengine=libaio --iodepth=4 --direct=1 >/dev/null 2>&1

for round in 1 2; do
	# Direct child, so $! is fio itself and it gets our signal.
	fio --name=rand --filename=/dev/mapper/c21 --rw=randwrite --bs=4k \
		--ioengine=libaio --iodepth=16 --direct=1 --time_based --runtime=600 \
		--name=mixed --filename=/dev/mapper/c21 --rw=randwrite \
		--bsrange=4k-512k --ioengine=libaio --iodepth=4 --direct=1 \
		--time_based --runtime=600 >/tmp/21.fio 2>&1 &
	fpid=$!
	t_cleanup_add "kill $fpid"
	sleep 4
	# The snapshot moment: writers above are suspended, the copy is the truth.
	dmsetup suspend c21
	dd if=/dev/mapper/l21 of=/tmp/21.copy bs=1M iflag=direct status=none
	# Round 2 copies in 256 KiB COW chunks (tracking stays at 64 KiB).
	cs_msg cs21 snap_take /dev/vdc $([ $round = 2 ] && echo 512); rc=$?
	dmsetup resume c21
	t_check "round $round: snap_take while crypt suspended" test $rc = 0
	t_check "round $round: view of the snapshot" \
		dmsetup create --readonly v21 --table "0 $SZ cryptsnap-view /dev/mapper/cs21"
	t_cleanup_add "dmsetup remove v21"
	t_check "round $round: view equals the copy while fio writes (1st read)" \
		cmp /dev/mapper/v21 /tmp/21.copy
	t_check "round $round: view equals the copy while fio writes (2nd read)" \
		bash -c "dd if=/dev/mapper/v21 bs=64k iflag=direct status=none | cmp - /tmp/21.copy"
	t_check "round $round: fio still running during the reads" kill -0 $fpid
	t_check "round $round: COW in use, snapshot active" \
		test "$(cs_state cs21)" = active -a "$(cs_cowused cs21)" -gt 0
	kill -TERM $fpid; wait $fpid
	t_check "round $round: fio through dm-crypt had no error" bash -c "grep -q 'err= 0' /tmp/21.fio && ! grep -Eq 'err= *[1-9]' /tmp/21.fio"
	t_check "round $round: view still equals the copy after fio" cmp /dev/mapper/v21 /tmp/21.copy
	t_check "round $round: view opens with the LUKS key, read-only" \
		cryptsetup open --readonly --key-file "$KEY" /dev/mapper/v21 vc21
	t_check "round $round: view plaintext readable" \
		dd if=/dev/mapper/vc21 of=/dev/null bs=1M iflag=direct status=none
	cryptsetup close vc21
	t_check "round $round: view status" test "$(dmsetup status v21 | awk '{print $4, $5}')" = "active $round"
	t_check "round $round: remove view" dmsetup remove v21
	t_check "round $round: commit" cs_msg cs21 commit
	t_check "round $round: snap_drop" cs_msg cs21 snap_drop
done
t_cleanup
rm -f /tmp/21.*
exit 0
