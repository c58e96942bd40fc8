#!/bin/bash
# Issue 3: change tracking is exact at chunk granularity (aligned,
# unaligned, spanning, discard, write-zeroes, last partial chunk), the
# hand-over at snapshot time, abort keeps, commit clears, paging of the
# change set, and 100 consecutive snapshot cycles stay exact.
. "$(dirname "$0")/2lib.sh"

CS_CHUNK=128
# Backing with a last partial chunk: 512 MiB minus 24 sectors.
SZ=$(( (512 << 11) - 24 ))
CHUNKS=$(( (SZ + CS_CHUNK - 1) / CS_CHUNK ))
t_wipe /dev/vdb
dmsetup create l20 --table "0 $SZ linear /dev/vdb 0" || { t_fail "linear backing"; exit 1; }
t_cleanup_add "dmsetup remove l20"
t_check "create cryptsnap over a device with a partial last chunk" \
	dmsetup create cs20 --table "0 $SZ cryptsnap /dev/mapper/l20 $CS_CHUNK"
t_cleanup_add "dmsetup remove cs20"
t_cleanup_add "cs_msg cs20 snap_drop"
D=/dev/mapper/cs20

t_check "status: chunk size, chunks, nothing changed, no snapshot" \
	test "$(cs_field cs20 0) $(cs_field cs20 1) $(cs_changed cs20) $(cs_state cs20)" = "$CS_CHUNK $CHUNKS 0 none"

exp=/tmp/20.exp got=/tmp/20.got
: >"$exp"
w() { cs_touch "$D" "$@"; }
w 10;                      echo 10 >>"$exp"             # aligned 4k
w 20 37;                   echo 20 >>"$exp"             # unaligned in chunk
dd if=/dev/urandom of=$D bs=512 count=1 seek=$((30 * 128 + 5)) oflag=direct status=none
echo 30 >>"$exp"                                        # one sector
dd if=/dev/urandom of=$D bs=512 count=16 seek=$((41 * 128 - 8)) oflag=direct status=none
printf '40\n41\n' >>"$exp"                              # spans two chunks
dd if=/dev/urandom of=$D bs=512 count=2048 seek=$((100 * 128)) oflag=direct status=none
seq 100 115 >>"$exp"
dd if=/dev/urandom of=$D bs=512 count=2048 seek=$((200 * 128 + 32)) oflag=direct status=none
seq 200 216 >>"$exp"                                    # unaligned 1 MiB
blkdiscard -o $((300 * 65536)) -l $((3 * 65536)) $D && seq 300 302 >>"$exp"
blkdiscard -z -o $((400 * 65536 + 4096)) -l 8192 $D && echo 400 >>"$exp"
dd if=/dev/urandom of=$D bs=512 count=8 seek=$((SZ - 8)) oflag=direct status=none
echo $((CHUNKS - 1)) >>"$exp"                           # last partial chunk
dd if=$D of=/dev/null bs=64k skip=500 count=4 iflag=direct status=none   # reads: no mark
blockdev --flushbufs $D; sync                           # flushes: no mark
nexp=$(sort -nu "$exp" | wc -l)
t_check "live count equals chunks written ($nexp)" test "$(cs_changed cs20)" = "$nexp"

t_check "snap_take" cs_msg cs20 snap_take /dev/vdd
t_check "snapshot active, counter 1, base 0, set pending" \
	test "$(cs_state cs20) $(cs_counter cs20) $(cs_base cs20) $(cs_setstate cs20)" = "active 1 0 pending"
t_check "frozen count equals written, live map restarted" \
	test "$(cs_frozen cs20) $(cs_changed cs20)" = "$nexp 0"
cs_changes cs20 >"$got"
t_check "change set is exactly the written chunks" cs_same_set "$exp" "$got"
cs_changes cs20 1 >"$got.1"
t_check "paging one extent at a time gives the same set" cs_same_set "$exp" "$got.1"
t_check "changes from the last chunk+1 is an empty final page" \
	test "$(cs_msg cs20 changes $CHUNKS)" = "$CHUNKS 0 -"

w 600
t_check "write after the snapshot goes to the live map only" \
	test "$(cs_changed cs20) $(cs_frozen cs20)" = "1 $nexp"
t_check "abort" cs_msg cs20 abort
t_check "abort merges the set back into the live map" \
	test "$(cs_changed cs20) $(cs_setstate cs20)" = "$((nexp + 1)) aborted"
t_refuse "commit after abort is refused" cs_msg cs20 commit
t_check "snap_drop" cs_msg cs20 snap_drop
echo 600 >>"$exp"

t_check "second snap_take" cs_msg cs20 snap_take /dev/vdd
cs_changes cs20 >"$got"
t_check "aborted changes are in the next set" cs_same_set "$exp" "$got"
t_check "commit" cs_msg cs20 commit
t_check "commit: base = counter = 2, set committed" \
	test "$(cs_counter cs20) $(cs_base cs20) $(cs_setstate cs20)" = "2 2 committed"
t_check "snap_drop after commit" cs_msg cs20 snap_drop
t_check "commit cleared the changes" test "$(cs_changed cs20)" = 0
cs_msg cs20 snap_take /dev/vdd
t_check "empty change set reads as one empty page" \
	test "$(cs_msg cs20 changes 0)" = "$CHUNKS 0 -"
cs_msg cs20 commit; cs_msg cs20 snap_drop

# Many extents: every other chunk over 400 MiB, more than one page.
fio --name=sparse --filename=$D --rw=write:124k --bs=4k --size=400M \
	--ioengine=libaio --iodepth=16 --direct=1 >/dev/null 2>&1
cs_msg cs20 snap_take /dev/vdd
t_check "3200 scattered chunks in the set" test "$(cs_frozen cs20)" = 3200
first=$(cs_msg cs20 changes 0)
t_check "a page stops at 4096 extents or the buffer, with a cursor" \
	test "$(awk '{print $2}' <<<"$first")" -gt 0
cs_changes cs20 >"$got"
t_check "paged set is every other chunk" \
	test "$(wc -l <"$got") $(head -n1 "$got") $(tail -n1 "$got")" = "3200 0 6398"
cs_msg cs20 commit; cs_msg cs20 snap_drop

# 100 cycles: random writes, take, compare, commit or abort, drop.
ok=1 carry=/tmp/20.carry
: >"$carry"
for i in $(seq 1 100); do
	cp "$carry" "$exp"
	for j in 1 2 3; do
		c=$(( (RANDOM * 32768 + RANDOM) % CHUNKS ))
		w "$c"; echo "$c" >>"$exp"
	done
	cs_msg cs20 snap_take /dev/vdd || { ok=0; t_diag "cycle $i: take failed"; break; }
	cs_changes cs20 >"$got"
	if ! cs_same_set "$exp" "$got" >/tmp/20.diff; then
		ok=0; t_diag "cycle $i: $(cat /tmp/20.diff)"; cs_msg cs20 snap_drop; break
	fi
	if [ $((i % 3)) = 0 ]; then
		cs_msg cs20 abort; sort -nu "$exp" >"$carry"
	else
		cs_msg cs20 commit; : >"$carry"
	fi
	cs_msg cs20 snap_drop || { ok=0; break; }
done
t_check "100 snapshot cycles: every change set exact" test $ok = 1
t_check "counter counts snapshots" test "$(cs_counter cs20)" -ge 104

u=$(cs_field cs20 3)
t_check "reset without a snapshot" cs_msg cs20 reset
t_check "reset: new uuid, counter 0, base 0, nothing changed" \
	test "$(cs_field cs20 3 | grep -vx "$u") $(cs_counter cs20) $(cs_base cs20) $(cs_changed cs20)" = "$(cs_field cs20 3) 0 0 0"
t_cleanup
rm -f /tmp/20.*
exit 0
