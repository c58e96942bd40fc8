#!/bin/bash
# Issue 12: a COW store that hangs instead of failing (a dm-linear COW
# suspended with --noflush) must not stall the VM.  Within the COW
# timeout the snapshot turns invalid:cow_timeout, every held write goes
# on, fio keeps completing I/O, no task sits in D state longer than the
# timeout, snap_drop does not wait for the stuck COW writes, and once the
# COW device answers again everything is freed without a splat.
. "$(dirname "$0")/2lib.sh"

SZ=$((128 << 11))
TMO=5
t_wipe /dev/vda
dmsetup create l29 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove l29"
dmsetup create cow29 --table "0 $((32 << 11)) linear /dev/vdd 0" || { t_fail "COW"; exit 1; }
t_cleanup_add "dmsetup remove cow29"
t_cleanup_add "dmsetup resume cow29"
dmsetup create cs29 --table "0 $SZ cryptsnap /dev/mapper/l29 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs29"
t_cleanup_add "cs_msg cs29 snap_drop"
D=/dev/mapper/cs29

t_refuse "cow_timeout 0 is refused" cs_msg cs29 cow_timeout 0
t_refuse "cow_timeout above the limit is refused" cs_msg cs29 cow_timeout 3601
t_check "cow_timeout $TMO" cs_msg cs29 cow_timeout $TMO

# Every second, every task in D state; a task seen in D in more than
# TMO + 3 consecutive samples is reported.
dwatch() {
	declare -A seen=()
	local pid st
	while [ -e /tmp/29.watch ]; do
		declare -A now=()
		for f in /proc/[0-9]*/stat; do
			{ read -r pid _ st _ <"$f"; } 2>/dev/null || continue
			[ "$st" = D ] || continue
			now[$pid]=$(( ${seen[$pid]:-0} + 1 ))
			[ "${now[$pid]}" -gt $((TMO + 3)) ] &&
				echo "$pid $(cat /proc/$pid/comm 2>/dev/null) D for ${now[$pid]} s" >>/tmp/29.stuck
		done
		seen=()
		for pid in "${!now[@]}"; do seen[$pid]=${now[$pid]}; done
		unset now
		sleep 1
	done
}

# 1. The COW store hangs while the VM writes.
rm -f /tmp/29.stuck; touch /tmp/29.watch
dwatch & W=$!
t_check "snap_take" cs_msg cs29 snap_take /dev/mapper/cow29
t_check "suspend the COW device (noflush): it now hangs" dmsetup suspend --noflush cow29
fio --name=w --filename=$D --rw=randwrite --bs=4k --size=120M --ioengine=libaio \
	--iodepth=16 --direct=1 --time_based --runtime=$((TMO * 4)) >/tmp/29.fio 2>&1 &
F=$!
state=
for i in $(seq 1 $((TMO * 3))); do
	sleep 1
	state=$(cs_state cs29)
	[ "$state" = invalid:cow_timeout ] && break
done
t_diag "state after $i s: $state"
t_check "within the timeout the snapshot turns invalid:cow_timeout" test "$state" = invalid:cow_timeout
t_check "writes to new chunks complete while the COW still hangs" \
	timeout 20 dd if=/dev/urandom of=$D bs=64k count=64 seek=1500 oflag=direct status=none
wait $F; frc=$?
[ $frc = 0 ] && ! grep -q 'err= *[1-9]' /tmp/29.fio &&
	t_ok "fio completed, no error: $(grep -o 'IOPS=[^,]*' /tmp/29.fio | head -n1)" ||
	t_fail "fio rc=$frc $(tail -n 5 /tmp/29.fio)"
t0=$(date +%s)
t_check "snap_drop returns while COW writes are stuck" cs_msg cs29 snap_drop
t_check "... at once (the COW is known to hang)" test $(( $(date +%s) - t0 )) -le 2
t_check "status: no snapshot" test "$(cs_state cs29)" = none
t_check "the origin still takes writes" cs_touch $D 3

# 2. The COW hangs and the snapshot is dropped before the timeout fired:
# snap_drop waits at most the timeout, then lets go.
cs_msg cs29 cow_timeout 30
dmsetup create cow29b --table "0 $((32 << 11)) linear /dev/vdd $((32 << 11))"
t_cleanup_add "dmsetup remove cow29b"
t_cleanup_add "dmsetup resume cow29b"
cs_msg cs29 snap_take /dev/mapper/cow29b
cs_msg cs29 cow_timeout $TMO
dmsetup suspend --noflush cow29b
t_check "a first write completes with the COW hanging" cs_touch $D 40
t0=$(date +%s)
t_check "snap_drop with a COW write stuck" cs_msg cs29 snap_drop
dt=$(( $(date +%s) - t0 ))
t_check "snap_drop waited at most the timeout ($dt s)" test $dt -le $((TMO + 2))
t_check "removing the origin with stuck COW writes" dmsetup remove cs29
rm -f /tmp/29.watch; wait $W
t_check "no task in D state longer than the timeout" test ! -s /tmp/29.stuck
[ -s /tmp/29.stuck ] && sed 's/^/#   /' /tmp/29.stuck | head

# 3. The COW devices answer again: the stuck writes end, the orphaned
# snapshots are freed and release their COW devices.
t_check "resume the COW devices" bash -c "dmsetup resume cow29 && dmsetup resume cow29b"
sleep 2
dmsetup create cs29 --table "0 $SZ cryptsnap /dev/mapper/l29 128"
t_check "COW device free again (snap_take on it)" cs_msg cs29 snap_take /dev/mapper/cow29
t_check "and on the second one after a drop" bash -c \
	"dmsetup message cs29 0 snap_drop && dmsetup message cs29 0 snap_take /dev/mapper/cow29b"
# One step past: that snapshot is whole.  Its view reads the disk as at
# snap_take while new writes land (and are copied to the answering COW).
cs_msg cs29 snap_drop
dd if=$D of=/tmp/29.before bs=1M iflag=direct status=none
cs_msg cs29 snap_take /dev/mapper/cow29b
dd if=/dev/urandom of=$D bs=64k count=64 seek=16 oflag=direct status=none
dmsetup create --readonly v29 --table "0 $SZ cryptsnap-view $D" && t_cleanup_add "dmsetup remove v29"
t_check "its view reads the disk as at the snapshot" cmp /dev/mapper/v29 /tmp/29.before
dmsetup remove v29
cs_msg cs29 snap_drop
t_cleanup
rm -f /tmp/29.*
exit 0
