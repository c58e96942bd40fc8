#!/bin/bash
# Issue 13: the snapshot copies only what the backup still needs.
#  - release <start> <sectors>: writes to released chunks go straight to
#    the origin (no COW used), view reads of them fail with EIO and a
#    kernel log line; unreleased chunks still copy and read old data.
#  - release_unchanged <keep>: only the frozen change set and the first
#    <keep> sectors stay needed; status field 11 counts them.
#  - bad arguments and wrong states are refused and change nothing;
#    a release overlapping a view read in flight is refused (EBUSY).
. "$(dirname "$0")/2lib.sh"

CS_CHUNK=128
CHUNK=65536
SZ=$((64 << 11))		# 64 MiB of /dev/vda: 1024 chunks
NCH=1024
t_wipe /dev/vda
t_wipe /dev/vdd
old=/tmp/27.old
head -c $((SZ * 512)) /dev/urandom >$old
dd if=$old of=/dev/vda bs=1M oflag=direct conv=fsync status=none

# The target maps a whole device: a 64 MiB linear one, which part 1 also
# suspends to hold a view read in flight.
dmsetup create lin27 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove lin27"
t_cleanup_add "dmsetup resume lin27"
dmsetup create cs27 --table "0 $SZ cryptsnap /dev/mapper/lin27 $CS_CHUNK" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs27"
t_cleanup_add "dmsetup remove v27"
t_cleanup_add "cs_msg cs27 snap_drop"
D=/dev/mapper/cs27 V=/dev/mapper/v27
cs_needed() { cs_field "$1" 11; }
same() {	# chunk device file
	cmp <(dd if=$2 bs=64k skip=$1 count=1 iflag=direct status=none) \
	    <(dd if=$3 bs=64k skip=$1 count=1 status=none)
}
view_fails() {	# chunk
	! dd if=$V of=/dev/null bs=64k skip=$1 count=1 iflag=direct status=none 2>/dev/null
}

t_refuse "release without a snapshot is refused" cs_msg cs27 release 0 128
t_check "no snapshot: status says 0 chunks needed" test "$(cs_needed cs27)" = 0

# Part 1: explicit releases during a full backup.
cs_msg cs27 snap_take /dev/vdd || { t_fail "snap_take"; exit 1; }
dmsetup create --readonly v27 --table "0 $SZ cryptsnap-view $D" || { t_fail "view"; exit 1; }
t_check "a new snapshot needs every chunk" test "$(cs_needed cs27)" = $NCH
t_refuse "release past the end is refused" cs_msg cs27 release $((SZ - 128)) 256
t_refuse "release of 0 sectors is refused" cs_msg cs27 release 0 0
t_refuse "release with junk is refused" cs_msg cs27 release 0 12x
t_refuse "release with one argument is refused" cs_msg cs27 release 0
t_check "needed unchanged by refused releases" test "$(cs_needed cs27)" = $NCH
t_check "release chunks 10..19" cs_msg cs27 release $((10 * 128)) $((10 * 128))
t_check "release of a part of a chunk releases nothing" cs_msg cs27 release $((30 * 128 + 8)) 64
t_check "needed counts whole chunks only" test "$(cs_needed cs27)" = $((NCH - 10))
dmesg -c >/dev/null 2>&1
cs_touch $D 12
cs_touch $D 15
t_check "writes to released chunks used no COW" test "$(cs_cowused cs27)" = 0
t_check "view read of a released chunk fails" view_fails 12
t_check "the refusal is logged" bash -c "dmesg | grep -q 'chunk 12 refused'"
cs_touch $D 30
t_check "a write to a needed chunk is copied" test "$(cs_cowused cs27)" = 1
t_check "view of the needed chunk: old data" same 30 $V $old
t_check "view of an untouched needed chunk: old data" same 40 $V $old
t_check "releasing a released range again is a no-op" cs_msg cs27 release $((10 * 128)) 128
# The last chunk, at the device's end, is released as a whole.
t_check "release the last chunk" cs_msg cs27 release $((SZ - 128)) 128
t_check "last chunk released" view_fails $((NCH - 1))

# A release overlapping a view read in flight is refused: the view read
# of chunk 50 is held (its data comes through a suspended dm-linear).
t_check "drop" cs_msg cs27 snap_drop
dmsetup remove v27
cs_msg cs27 snap_take /dev/vdd || t_fail "snap_take 2"
dmsetup create --readonly v27 --table "0 $SZ cryptsnap-view $D" || t_fail "view 2"
dmsetup suspend lin27
dd if=$V of=/dev/null bs=64k skip=50 count=1 iflag=direct status=none &
rpid=$!
sleep 1
t_refuse "release over a view read in flight is refused" cs_msg cs27 release $((50 * 128)) 128
t_refuse "release_unchanged with a view read in flight is refused" cs_msg cs27 release_unchanged 0
t_check "release elsewhere goes on" cs_msg cs27 release $((60 * 128)) 128
dmsetup resume lin27
wait $rpid && t_ok "the held view read completes" || t_fail "held view read"
t_check "chunk 50 can be released once its read is done" cs_msg cs27 release $((50 * 128)) 128
t_check "commit the second snapshot's set" cs_msg cs27 commit
t_check "commit clears the frozen count in status" test "$(cs_frozen cs27)" = 0

# Issue 12: a snapshot dropped while a view read is in flight and the
# chunk is overwritten: the read fails, it never returns a torn success.
dmsetup suspend lin27
dd if=$V of=/tmp/27.torn bs=64k skip=70 count=1 iflag=direct status=none 2>/dev/null &
rpid=$!
sleep 1
t_check "snap_drop with a view read in flight" cs_msg cs27 snap_drop
dd if=/dev/urandom of=$D bs=64k seek=70 count=1 oflag=direct status=none &
wpid=$!
sleep 1
dmsetup resume lin27
wait $wpid
wait $rpid && t_fail "the view read of a dropped snapshot succeeded" ||
	t_ok "the view read of a dropped snapshot fails"
dmsetup remove v27

# Part 2: an incremental backup needs its change set and the header only.
for c in 100 101 102 500 900; do cs_touch $D $c; done
dd if=$D of=$old bs=1M iflag=direct status=none
cs_msg cs27 snap_take /dev/vdd || t_fail "snap_take 3"
dmsetup create --readonly v27 --table "0 $SZ cryptsnap-view $D" || t_fail "view 3"
t_refuse "release_unchanged past the end is refused" cs_msg cs27 release_unchanged $((SZ + 1))
t_check "release_unchanged keeping 4 header chunks" cs_msg cs27 release_unchanged $((4 * 128))
# Changed: 70 (written after the drop above) and the five just touched.
t_check "needed: 6 changed + 4 header chunks" test "$(cs_needed cs27)" = 10
for c in 2 7 100 101 200 500 700 900 1023; do cs_touch $D $c; done
t_check "only needed chunks were copied (2, 100, 101, 500, 900)" test "$(cs_cowused cs27)" = 5
for c in 2 70 100 101 102 500 900; do
	t_check "view of needed chunk $c: data at the snapshot" same $c $V $old
done
for c in 7 200 700 1023; do
	t_check "view of unneeded chunk $c fails" view_fails $c
done
t_check "commit after an incremental" cs_msg cs27 commit
t_check "drop" cs_msg cs27 snap_drop
t_cleanup
rm -f /tmp/27.*
