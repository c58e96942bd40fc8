#!/bin/bash
# Issue 12: snap_take requires a quiesced origin.  With a write in
# flight below the origin (held by dm-delay) it is refused with EBUSY and
# a kernel log line, and nothing changes; with the dm-crypt device above
# suspended (the tool's path) the same in-flight write has drained and
# snap_take works.
. "$(dirname "$0")/2lib.sh"

SZ=$((64 << 11))
t_wipe /dev/vda
# Writes below the origin take 2 s; reads are immediate.
dmsetup create l31 --table "0 $SZ delay /dev/vda 0 0 /dev/vda 0 2000" || { t_fail "dm-delay"; exit 1; }
t_cleanup_add "dmsetup remove l31"
dmsetup create cs31 --table "0 $SZ cryptsnap /dev/mapper/l31 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs31"
t_cleanup_add "cs_msg cs31 snap_drop"
D=/dev/mapper/cs31

dmesg -C
cs_touch $D 3 &
sleep 0.5
t_refuse "snap_take with a write in flight is refused" cs_msg cs31 snap_take /dev/vdd
if dmesg | grep -q 'snap_take refused: .* writes in flight'; then
	t_ok "the kernel log says why: $(dmesg | grep -o 'snap_take refused: .*' | head -n1)"
else
	t_fail "the kernel log says why; it said: $(dmesg | tail -n 3 | tr '\n' ' ')"
fi
t_check "no snapshot, counter unchanged" test "$(cs_state cs31) $(cs_counter cs31)" = "none 0"
wait
t_check "once the write ended, snap_take works" cs_msg cs31 snap_take /dev/vdd
t_check "its change set has the write" test "$(cs_changes cs31)" = 3
cs_msg cs31 commit
cs_msg cs31 snap_drop

# Under dm-crypt: writes through the crypt device in flight.
head -c 32 /dev/urandom >/tmp/31.key
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 256 --key-file /tmp/31.key \
	$D c31 || { t_fail "crypt open"; exit 1; }
t_cleanup_add "cryptsetup close c31"
dd if=/dev/urandom of=/dev/mapper/c31 bs=64k seek=10 count=1 oflag=direct status=none &
sleep 0.5
t_refuse "snap_take under an unsuspended dm-crypt with writes in flight is refused" \
	cs_msg cs31 snap_take /dev/vdd
dd if=/dev/urandom of=/dev/mapper/c31 bs=64k seek=20 count=1 oflag=direct status=none &
sleep 0.5
dmsetup suspend c31          # waits for the write in flight
cs_msg cs31 snap_take /dev/vdd; rc=$?
dmsetup resume c31
t_check "snap_take with dm-crypt suspended works" test $rc = 0
wait
t_check "both writes are in its change set" test "$(cs_changes cs31 | tr '\n' ' ')" = "10 20 "
cs_msg cs31 snap_drop
t_cleanup
rm -f /tmp/31.*
exit 0
