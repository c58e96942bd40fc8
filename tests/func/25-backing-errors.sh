#!/bin/bash
# Issue 3: I/O errors of the backing device pass up unchanged, with or
# without a snapshot; a copy that cannot read the old data invalidates
# the snapshot (origin_read_error) but never hides the error or blocks.
. "$(dirname "$0")/2lib.sh"

SZ=$((64 << 11))
BAD=$((100 * 128))      # chunks 100-101 fail
t_wipe /dev/vdb
dmsetup create l25 --table "0 $SZ linear /dev/vdb 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove l25"
dmsetup create cs25 --table "0 $SZ cryptsnap /dev/mapper/l25 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs25"
t_cleanup_add "cs_msg cs25 snap_drop"
D=/dev/mapper/cs25

break_backing() {
	dmsetup suspend l25
	printf '%s\n' "0 $BAD linear /dev/vdb 0" "$BAD 256 error" \
		"$((BAD + 256)) $((SZ - BAD - 256)) linear /dev/vdb $((BAD + 256))" |
		dmsetup reload l25
	dmsetup resume l25
}
break_backing
t_refuse "write to a failing backing region fails" cs_touch $D 100
t_refuse "read of a failing backing region fails" \
	dd if=$D of=/dev/null bs=4k skip=$((100 * 16)) count=1 iflag=direct status=none
t_check "writes elsewhere succeed" cs_touch $D 5

t_check "snap_take" cs_msg cs25 snap_take /dev/vdd
t_refuse "first write to a failing chunk under a snapshot fails" cs_touch $D 101
t_check "snapshot invalid:origin_read_error" test "$(cs_state cs25)" = invalid:origin_read_error
t_check "writes elsewhere still succeed" cs_touch $D 7
t_check "and are tracked" test "$(cs_changed cs25)" -ge 2
t_check "snap_drop" cs_msg cs25 snap_drop
t_cleanup
exit 0
