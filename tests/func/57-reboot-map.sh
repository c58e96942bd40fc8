#!/bin/bash
# Issue 14: change tracking survives a clean reboot.  The guest cannot
# reboot, so each case plays one: umount, close the mapping, "cryptsnap
# shutdown", [something happens], "cryptsnap boot", open the mapping on
# the target again.  A clean cycle keeps the next backup incremental;
# writes that bypassed the target, a damaged map, a missing map (crash)
# restart tracking with the reason and the next backup is a full scan.
# Every point is restored and compared byte for byte with the disk, and
# every case is followed by one more backup and restore.
# Test hooks (sys/track_map.h): CRYPTSNAP_BOOT_ID_FILE, CRYPTSNAP_PROC_STAT.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc			# 256M, protected
RESTORE=/dev/vdb		# 512M, restore target
M=data57
t_tool_env 57 'reboot passphrase'
MAP=$CRYPTSNAP_STATE_DIR/disks/$M.map

t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" $M || t_fail "open"
# No lazy init: background inode-table zeroing would inflate the incremental.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/$M
t_cleanup_add "cryptsnap unprotect $M"
t_cleanup_add "cryptsetup close $M"
t_cleanup_add "umount /mnt/57"
t_check "vault init" cryptsnap vault init "$VAULT"
t_check "protect" cryptsnap protect $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
mkdir -p /mnt/57


# change TAG: write to the filesystem, then unmount (the mapping stays
# open) so nothing writes between the backup and the comparison.
change() {
	mount /dev/mapper/$M /mnt/57 &&
		head -c 1M /dev/urandom >/mnt/57/"$1" && sync && umount /mnt/57
}

# backup_as MODE TAG: a backup that must be MODE (full|incremental).
backup_as() {
	local mode=$1 tag=$2 got
	cryptsnap backup $M --json >/tmp/57.$tag 2>/tmp/57.$tag.err
	got=$(jget mode /tmp/57.$tag)
	if [ "$got" = "$mode" ]; then
		t_ok "$tag: backup is $mode"
	else
		t_fail "$tag: backup is '$got', not $mode"
		sed 's/^/#   /' /tmp/57.$tag.err
	fi
}

# restore_exact TAG: the point of backup TAG equals the disk byte for byte.
# The disk's own page cache is dropped first: the target writes below it,
# so pages an earlier cmp cached there would be stale.
restore_exact() {
	local tag=$1 p
	p=$(jget point /tmp/57.$tag)
	t_check "$tag: restore point ${p:-?} and compare with the disk" bash -c \
		"cryptsnap restore --point '$p' --to $RESTORE --force >/dev/null &&
		 blockdev --flushbufs $DISK $RESTORE &&
		 cmp -n \$(blockdev --getsize64 $DISK) $RESTORE $DISK"
}

# one_more TAG: the step past the demo, an incremental backup and restore.
one_more() {
	change "$1.more" || t_fail "$1: write after the boot"
	backup_as incremental "$1.more"
	restore_exact "$1.more"
}

go_down() {	# the shutdown half of a reboot
	t_check "$1: shutdown saves the map" cryptsnap shutdown $M
	t_check "$1: target removed" bash -c "! dmsetup info cryptsnap-$M >/dev/null 2>&1"
}

# come_up TAG PATTERN: boot, its message must match PATTERN; map consumed.
come_up() {
	local tag=$1 pat=$2
	cryptsnap boot $M >/tmp/57.$tag.boot 2>&1
	grep -q -- "$pat" /tmp/57.$tag.boot && t_ok "$tag: boot says '$pat'" ||
		t_fail "$tag: boot said: $(cat /tmp/57.$tag.boot)"
	t_diag "$(cat /tmp/57.$tag.boot)"
	t_check "$tag: the map is consumed" test ! -e "$MAP"
	t_check "$tag: mapping opens on the target" \
		cryptsetup open --key-file "$KEY" /dev/mapper/cryptsnap-$M $M
}

change base
backup_as full base
restore_exact base

# 0: refusals.
t_refuse "shutdown refused while the mapping is open" cryptsnap shutdown $M
t_refuse "boot of an unknown disk" cryptsnap boot nosuch57
t_refuse "boot without a disk" cryptsnap boot

# 1: a clean cycle in the same boot: no write in between.
change c1
cryptsetup close $M
go_down clean
t_check "clean: map file is 0600" test "$(stat -c %a "$MAP")" = 600
come_up clean "tracking resumed"
backup_as incremental clean
restore_exact clean
total=$(( $(blockdev --getsize64 "$DISK") / 65536 ))
read_chunks=$(jget chunks_read /tmp/57.clean)
[ -n "$read_chunks" ] && [ "$read_chunks" -lt $((total / 4)) ] &&
	t_ok "clean: incremental read $read_chunks of $total chunks" ||
	t_fail "clean: incremental read '$read_chunks' of $total chunks"
one_more clean

# 1b: the same, as another boot (hooks): a boot that began after the save.
cryptsetup close $M
go_down nextboot
cat /proc/sys/kernel/random/uuid >/tmp/57.bootid
printf 'cpu 0 0 0\nbtime %s\n' $(( $(date +%s) + 5 )) >/tmp/57.stat
CRYPTSNAP_BOOT_ID_FILE=/tmp/57.bootid CRYPTSNAP_PROC_STAT=/tmp/57.stat \
	come_up nextboot "tracking resumed"
backup_as incremental nextboot
restore_exact nextboot

# 1c: another boot that claims to have begun before the save: refused.
cryptsetup close $M
go_down oldboot
printf 'cpu 0 0 0\nbtime %s\n' $(( $(date +%s) - 3600 )) >/tmp/57.stat
CRYPTSNAP_BOOT_ID_FILE=/tmp/57.bootid CRYPTSNAP_PROC_STAT=/tmp/57.stat \
	come_up oldboot "tracking restarted: the map was saved by another boot after this boot began"
backup_as full oldboot
restore_exact oldboot
one_more oldboot

# 2: between shutdown and boot the disk is opened and written without the
# target.  Were the map trusted, the next incremental would miss the file.
cryptsetup close $M
go_down bypass
cryptsetup open --key-file "$KEY" "$DISK" $M &&
	mount /dev/mapper/$M /mnt/57 && head -c 2M /dev/urandom >/mnt/57/bypass &&
	umount /mnt/57 && cryptsetup close $M || t_fail "bypass: write without the target"
come_up bypass "tracking restarted: the disk was written without the target"
backup_as full bypass
grep -q "not continuous" /tmp/57.bypass.err && t_ok "bypass: backup says why it is full" ||
	t_fail "bypass: no reason: $(cat /tmp/57.bypass.err)"
restore_exact bypass
one_more bypass

# 3: a damaged map is refused with the reason.
cryptsetup close $M
go_down corrupt
printf '\xff' | dd of="$MAP" bs=1 seek=100 conv=notrunc status=none
come_up corrupt "tracking restarted: the saved map is damaged"
backup_as full corrupt
restore_exact corrupt
one_more corrupt

# 4: a crash: the target vanished without a shutdown, no map.
cryptsetup close $M
dmsetup remove cryptsnap-$M
come_up crash "tracking restarted: no saved change map"
t_check "crash: status shows tracking active again" bash -c \
	"cryptsnap status $M | grep -q 'generation'"
backup_as full crash
restore_exact crash
one_more crash

# 5: boot while tracking is active changes nothing.
t_check "boot with the target in place" bash -c \
	"cryptsnap boot $M | grep -q 'already active'"
change active || t_fail "active: write"
backup_as incremental active
restore_exact active

t_cleanup
rm -rf /tmp/57.*
