#!/bin/bash
# Issue 3: the copy path.  A first write waits only until its chunk's old
# data has been read into the snapshot's buffers; the COW write follows in
# the background.  Here the COW device delays every write by 1.5 s
# (dm-delay), so each step below happens while COW writes are in flight:
#  - a view read of a chunk whose old data is still on its way to COW
#    waits for it and returns the old data;
#  - a multi-chunk first write, and more first writes than the buffers
#    hold (they wait for buffers, never fail), leave an exact image;
#  - a discard of 320 chunks (five times what the buffers hold) completes
#    and the view keeps the old data;
#  - snap_drop with copies and view reads in flight is clean, and a view
#    read never returns new data.
. "$(dirname "$0")/2lib.sh"

CS_CHUNK=128
CHUNK=65536
SZ=$((256 << 11))		# 256 MiB of /dev/vda, 4096 chunks
NOLD=520			# chunks with known old contents
t_wipe /dev/vda
t_wipe /dev/vdd
old=/tmp/26.old new=/tmp/26.new
head -c $((NOLD * CHUNK)) /dev/urandom >$old
head -c $((NOLD * CHUNK)) /dev/urandom >$new
dd if=$old of=/dev/vda bs=1M oflag=direct conv=fsync status=none

dmsetup create l26 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear backing"; exit 1; }
t_cleanup_add "dmsetup remove l26"
dmsetup create cs26 --table "0 $SZ cryptsnap /dev/mapper/l26 $CS_CHUNK" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs26"
# 64 MiB of COW (1024 chunks): reads at once, writes 1.5 s late.
dmsetup create cow26 --table "0 $((64 << 11)) delay /dev/vdd 0 0 /dev/vdd 0 1500" ||
	{ t_fail "dm-delay COW device"; exit 1; }
t_cleanup_add "dmsetup remove cow26"
t_cleanup_add "dmsetup remove v26"
t_cleanup_add "cs_msg cs26 snap_drop"
D=/dev/mapper/cs26 V=/dev/mapper/v26

# Write chunks [$1, $1 + $2) of the new data through the origin, $3 bytes
# a write ($1 chunks must be a multiple of $3).
put() {
	dd if=$new of=$D bs=$3 skip=$(($1 * CHUNK / $3)) seek=$(($1 * CHUNK / $3)) \
		count=$(($2 * CHUNK / $3)) oflag=direct conv=notrunc status=none
}
# Chunks [$1, $1 + $2) of device $3 equal those of file $4.
same() {
	cmp <(dd if=$3 bs=64k skip=$1 count=$2 iflag=direct status=none) \
	    <(dd if=$4 bs=64k skip=$1 count=$2 status=none)
}

cs_msg cs26 snap_take /dev/mapper/cow26 || { t_fail "snap_take"; exit 1; }
dmsetup create --readonly v26 --table "0 $SZ cryptsnap-view $D" || { t_fail "view"; exit 1; }

# 1. One 4 KiB first write, then at once the view of its chunk.
t0=$(date +%s%N)
t_check "4 KiB writes over chunk 3 complete" put 3 1 4096
t_diag "first write took $(( ($(date +%s%N) - t0) / 1000000 )) ms (COW writes take 1500 ms)"
t_check "view of chunk 3 during its COW write: old data" same 3 1 $V $old
t_check "origin chunk 3 holds the writes" same 3 1 $D $new

# 2. A 1 MiB first write (one run of 16 chunks) and view reads racing it.
same 16 16 $V $old >/tmp/26.race1 2>&1 &
r1=$!
t_check "1 MiB first write over chunks 16-31" put 16 16 1048576
same 16 16 $V $old >/tmp/26.race2 2>&1 &
r2=$!
wait $r1
t_check "view read racing the 1 MiB write: old data" test $? = 0
wait $r2
t_check "view read after the 1 MiB write: old data" test $? = 0

# 3. 120 chunks of first writes from two writers: more than the copy
#    buffers (4 MiB) hold while COW writes lag, so some wait for buffers.
put 48 64 1048576 & w1=$!
put 112 56 65536 & w2=$!
wait $w1
t_check "writer 1 (64 chunks, 1 MiB writes) completes" test $? = 0
wait $w2
t_check "writer 2 (56 chunks, 64 KiB writes) completes" test $? = 0
t_check "snapshot still active" test "$(cs_state cs26)" = active
t_check "view equals the old data on all $NOLD chunks" same 0 $NOLD $V $old
t_check "origin holds the new data on chunks 48-167" same 48 120 $D $new
used=$(cs_cowused cs26)
t_check "COW used: exactly the 137 chunks first-written" bash -c "echo used $used; [ $used = 137 ]"

# 4. A discard far larger than the copy buffers: it waits for buffers
#    several times, resuming where it stopped.  (-f: the view holds the
#    origin open, so blkdiscard's default exclusive open would fail.)
t_check "discard of chunks 200-519 completes" \
	blkdiscard -f -o $((200 * CHUNK)) -l $((320 * CHUNK)) $D
t_check "snapshot still active after the discard" test "$(cs_state cs26)" = active
t_check "view keeps the old data of the discarded chunks" same 200 320 $V $old
used=$(cs_cowused cs26)
t_check "COW used: 137 + the 320 discarded chunks" bash -c "echo used $used; [ $used = 457 ]"

# 5. Drop while copies and a parked view read are in flight.
put 180 10 65536
same 180 10 $V $old >/tmp/26.drop 2>&1 &
r3=$!
t_check "snap_drop with COW writes in flight" cs_msg cs26 snap_drop
wait $r3
rc=$?
t_check "the racing view read failed or returned old data, never new" \
	bash -c "[ $rc = 0 ] || grep -q 'Input/output error' /tmp/26.drop"
t_check "view reads fail once the snapshot is gone" \
	bash -c "! dd if=$V of=/dev/null bs=64k count=1 iflag=direct status=none"
t_check "origin holds the new data on chunks 180-189" same 180 10 $D $new
t_check "origin reports no snapshot" test "$(cs_state cs26)" = none
dmsetup remove v26
t_check "COW device free again (exclusive open released)" \
	bash -c "dmsetup remove cow26 && dmsetup create cow26 --table '0 2048 zero'"

t_cleanup
rm -f /tmp/26.*
exit 0
