#!/bin/bash
# Issue 12: the kernel memory a snapshot allocates while it runs (its
# index of copied runs) is bounded by a budget.  Spent, the snapshot
# turns invalid:memory; the VM's writes go on, nothing is lost from
# tracking, and the next snapshot with the default budget is fine.
. "$(dirname "$0")/2lib.sh"

SZ=$((128 << 11))
t_wipe /dev/vda
dmsetup create l30 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove l30"
dmsetup create cs30 --table "0 $SZ cryptsnap /dev/mapper/l30 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs30"
t_cleanup_add "cs_msg cs30 snap_drop"
D=/dev/mapper/cs30

t_refuse "mem_limit below 4096 is refused" cs_msg cs30 mem_limit 4095
t_refuse "mem_limit above 1 TiB is refused" cs_msg cs30 mem_limit $(( (1 << 40) + 1 ))
t_refuse "mem_limit junk is refused" cs_msg cs30 mem_limit 4k
t_check "mem_limit 4096 (a few dozen runs)" cs_msg cs30 mem_limit 4096
t_check "snap_take" cs_msg cs30 snap_take /dev/vdd
# 100 first writes to chunks apart: 100 runs, far more than 4 KiB holds.
head -c $((100 * 4096)) /dev/urandom >/tmp/30.data
ok=1
for i in $(seq 0 99); do
	dd if=/tmp/30.data of=$D bs=4k skip=$i seek=$((i * 32)) count=1 oflag=direct \
		conv=notrunc status=none || ok=0
done
[ $ok = 1 ] && t_ok "100 first writes succeed" || t_fail "a write failed"
t_check "snapshot invalid:memory" test "$(cs_state cs30)" = invalid:memory
t_check "written data reads back" bash -c 'for i in $(seq 0 99); do
	cmp <(dd if='$D' bs=4k skip=$((i * 32)) count=1 iflag=direct status=none) \
	    <(dd if=/tmp/30.data bs=4k skip=$i count=1 status=none) || exit 1; done'
t_check "every written chunk is tracked" test "$(cs_changed cs30)" = 100
t_check "writes after the invalidation go straight through" cs_touch $D 1900
t_refuse "commit refused" cs_msg cs30 commit
t_check "snap_drop" cs_msg cs30 snap_drop

t_check "mem_limit 0: back to the default" cs_msg cs30 mem_limit 0
# One step past: the next snapshot is whole.  Its view must read the disk
# as it was at snap_take, whatever was written after.
dd if=$D of=/tmp/30.before bs=1M iflag=direct status=none
cs_msg cs30 snap_take /dev/vdd
for i in $(seq 0 99); do
	dd if=/tmp/30.data of=$D bs=4k skip=$i seek=$((i * 32 + 8)) count=1 oflag=direct \
		conv=notrunc status=none
done
t_check "with the default budget the same writes keep it active" test "$(cs_state cs30)" = active
dmsetup create --readonly v30 --table "0 $SZ cryptsnap-view $D" && t_cleanup_add "dmsetup remove v30"
t_check "its view reads the disk as at the snapshot" \
	cmp /dev/mapper/v30 /tmp/30.before
dmsetup remove v30
t_check "a budget lowered under a live snapshot applies at once" bash -c \
	"dmsetup message cs30 0 mem_limit 4096 && dd if=/dev/urandom of=$D bs=4k seek=$((1800 * 16)) count=1 oflag=direct status=none && test \"\$(dmsetup status cs30 | awk '{print \$10}')\" = invalid:memory"
cs_msg cs30 snap_drop
cs_msg cs30 mem_limit 0
t_cleanup
rm -f /tmp/30.*
exit 0
