#!/bin/bash
# Issue 3: several tracked devices with their own snapshots at once;
# removing an origin with a live snapshot (copies in flight), reloading
# an origin under a view, and dropping a snapshot under a view are clean.
. "$(dirname "$0")/2lib.sh"

SZ=$((96 << 11))
for i in 0 1 2; do
	dmsetup create l24$i --table "0 $SZ linear /dev/vda $((i * SZ))" || { t_fail "linear $i"; exit 1; }
	t_cleanup_add "dmsetup remove l24$i"
	dmsetup create cow24$i --table "0 $((64 << 11)) linear /dev/vdc $((i * (64 << 11)))"
	t_cleanup_add "dmsetup remove cow24$i"
	t_check "origin $i" dmsetup create cs24$i --table "0 $SZ cryptsnap /dev/mapper/l24$i 128"
	t_cleanup_add "dmsetup remove cs24$i"
	t_cleanup_add "cs_msg cs24$i snap_drop"
done
for i in 0 1 2; do
	cs_touch /dev/mapper/cs24$i $((10 + i))
	t_check "snapshot on origin $i" cs_msg cs24$i snap_take /dev/mapper/cow24$i
	t_check "view $i" dmsetup create --readonly v24$i --table "0 $SZ cryptsnap-view /dev/mapper/cs24$i"
	t_cleanup_add "dmsetup remove v24$i"
done
for i in 0 1 2; do
	t_check "origin $i sees only its own change" test "$(cs_changes cs24$i)" = $((10 + i))
	t_check "view $i shows origin $i's counter" test "$(dmsetup status v24$i | awk '{print $5}')" = 1
done
for i in 0 1 2; do
	dd if=/dev/mapper/v24$i of=/tmp/24.v$i bs=1M iflag=direct status=none
done
for i in 0 1 2; do
	fio --name=w$i --filename=/dev/mapper/cs24$i --rw=randwrite --bs=4k --size=48M \
		--ioengine=libaio --iodepth=16 --direct=1 --time_based --runtime=20 >/dev/null 2>&1 &
done
sleep 5
t_check "views unchanged while all three origins are written" bash -c \
	"cmp /dev/mapper/v240 /tmp/24.v0 && cmp /dev/mapper/v241 /tmp/24.v1 && cmp /dev/mapper/v242 /tmp/24.v2"
wait

# Reload origin 0 with the same table under its view: state belongs to
# the mapped device, so tracking and the snapshot carry on.
uuid=$(cs_field cs240 3)
t_check "reload origin 0 (same table) with a view attached" bash -c \
	"dmsetup reload cs240 --table '0 $SZ cryptsnap /dev/mapper/l240 128' && dmsetup resume cs240"
t_check "same generation, snapshot still active" \
	test "$(cs_field cs240 3) $(cs_counter cs240) $(cs_state cs240)" = "$uuid 1 active"
cs_touch /dev/mapper/cs240 70
t_check "view unchanged across the reload" cmp /dev/mapper/v240 /tmp/24.v0
t_check "tracking continued across the reload" test "$(cs_changed cs240)" -gt 0
# A different chunk size is a different origin: refused while the
# snapshot exists (dm would resume the new table, whose writes are not
# copied, before dropping the old one), and while such a table is loaded
# no snapshot may be taken.  After snap_drop: new generation, and the
# view of the dropped snapshot fails.
t_refuse "reload origin 0 with another chunk size under a snapshot is refused" \
	dmsetup reload cs240 --table "0 $SZ cryptsnap /dev/mapper/l240 64"
t_check "the snapshot is still active and its view unchanged" bash -c \
	"test \"\$(dmsetup status cs240 | awk '{print \$10}')\" = active && cmp /dev/mapper/v240 /tmp/24.v0"
t_check "snap_drop" cs_msg cs240 snap_drop
t_check "reload origin 0 with another chunk size (loaded, not resumed)" \
	dmsetup reload cs240 --table "0 $SZ cryptsnap /dev/mapper/l240 64"
t_refuse "no snapshot while a table with another geometry is loaded" \
	cs_msg cs240 snap_take /dev/vdd
t_check "clear the loaded table: snapshots allowed again" bash -c \
	"dmsetup clear cs240 && dmsetup message cs240 0 snap_take /dev/vdd && dmsetup message cs240 0 snap_drop"
t_check "reload origin 0 with another chunk size, no snapshot" bash -c \
	"dmsetup reload cs240 --table '0 $SZ cryptsnap /dev/mapper/l240 64' && dmsetup resume cs240"
t_check "new geometry: new generation, no snapshot" \
	test "$(cs_field cs240 3 | grep -vx "$uuid") $(cs_state cs240) $(cs_field cs240 0)" = "$(cs_field cs240 3) none 64"
t_check "view of the dropped snapshot says so" test "$(dmsetup status v240 | awk '{print $4}')" = dropped
t_refuse "view of the dropped snapshot fails reads" \
	dd if=/dev/mapper/v240 of=/dev/null bs=64k count=1 iflag=direct status=none
t_check "remove that view" dmsetup remove v240

# snap_drop under a view: the view fails, the COW stays busy until it goes.
t_check "snap_drop on origin 1 with its view attached" cs_msg cs241 snap_drop
t_refuse "view 1 reads fail after the drop" \
	dd if=/dev/mapper/v241 of=/dev/null bs=64k count=1 iflag=direct status=none
t_check "remove view 1" dmsetup remove v241
t_check "COW 1 reusable once the view is gone" cs_msg cs241 snap_take /dev/mapper/cow241

# Remove origin 2 while writes are copying: remove view, then origin with
# its snapshot still live.
t_check "remove view 2" dmsetup remove v242
fio --name=w --filename=/dev/mapper/cs242 --rw=randwrite --bs=4k --size=96M \
	--ioengine=libaio --iodepth=16 --direct=1 --time_based --runtime=3 >/dev/null 2>&1
t_check "remove origin 2 with a live snapshot" dmsetup remove cs242
t_check "its COW device is free again" bash -c \
	"dmsetup create cs242 --table '0 $SZ cryptsnap /dev/mapper/l242 128' && dmsetup message cs242 0 snap_take /dev/mapper/cow242"
t_check "remove origin 1 with a live snapshot" bash -c "dmsetup remove cs241"
t_cleanup
rm -f /tmp/24.*
exit 0
