#!/bin/bash
# The guest half of the power-cut suite (issue 15; host: tests/faults/power.sh,
# booted by `vm-run.sh --job tests/faults/power-guest.sh --disk ...`).
# Every boot reads its orders from the control disk, checks what the last
# power cut left (from the second boot on), then starts one operation and
# prints "power: cut OP": the host kills QEMU (SIGKILL) a moment later.
#
# Disks (host image files that persist between boots, cache=writethrough):
#   vda  the protected disk: LUKS2, ext4 inside, mapping "data"
#   vdb  the vault's disk (ext4): the vault is /mnt/vault/v
#   vdc  the "system" disk (ext4): tool state, KEK directory, COW files,
#        the LUKS key file (what /var/lib/cryptsnap is on a real VM)
#   vdd  restore target of the restore that is cut
#   vde  control: text written by the host, NUL padded
# Control lines: "boot N", "op OP" (write|backup|restore|prune|rotate|none),
# "prev OP" (the operation cut in the previous boot), "point ID SHA" (a
# point committed before the cut and the sha256 of its image), "maybe ID"
# (a point the cut prune may have removed), "slot K SHA" (the content of
# file slotK last fsynced), "inflight K SHA" (slot K was being replaced
# with SHA at the cut: either content is what an application could see).
#
# Output on the TAP port, read by the host: TAP lines, and
#   power: point ID SHA      a point committed (the disk was quiet: SHA is
#                            the disk's ciphertext it must restore to)
#   power: removed ID        a point a completed prune removed
#   power: writing K SHA / power: synced K SHA    slot writes
#   power: cut OP            the operation the host cuts has started
#   power: tally KEY [N]     restore|verified N|lost|wrong|synced
# shellcheck source=tests/func/lib.sh
. "$(dirname "$0")/../func/lib.sh"

DATA=/dev/vda VDEV=/dev/vdb SDEV=/dev/vdc RDEV=/dev/vdd CTL=/dev/vde
M=data SYS=/mnt/sys VAULT=/mnt/vault/v MNT=/mnt/data
SLOTS=12
export CRYPTSNAP_STATE_DIR=$SYS/state CRYPTSNAP_KEY_DIR=$SYS/keys
export CRYPTSNAP_CONFIG=/tmp/empty.conf CRYPTSNAP_SYSLOG=0
KEY=$SYS/disk.key
: >/tmp/empty.conf
mkdir -p $SYS /mnt/vault $MNT

ctl=$(head -c 65536 $CTL | tr -d '\0')
cget() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' <<<"$ctl"; }
BOOT=$(cget boot) OP=$(cget op) PREV=$(cget prev)
export T_NAME="power/boot$BOOT"
t_diag "power: boot $BOOT, previous cut: ${PREV:-none}, this boot: $OP"

tally() { echo "power: tally $*"; }
rawsum() { dd if=$DATA iflag=direct bs=1M status=none | sha256sum | cut -c1-64; }
jget() { sed -n "s/.*\"$1\": *\"*\([^\",]*\).*/\1/p" "$2"; }
list_points() { cryptsnap points --vault $VAULT | awk '$1 ~ /^[0-9]+T[0-9]+Z-/ { print $1 }'; }

# restore_sum ID: the sha256 of point ID restored to a file (empty on failure).
restore_sum() {
	rm -f /tmp/r.img
	cryptsnap restore --vault $VAULT --point "$1" --to /tmp/r.img >/tmp/r.log 2>&1 ||
		{ sed 's/^/#   /' /tmp/r.log | tail -n 5; return 1; }
	sha256sum </tmp/r.img | cut -c1-64
	rm -f /tmp/r.img
}

# check_restore ID SHA WHAT: the point restores byte-exact to SHA.
check_restore() {
	local got
	if ! got=$(restore_sum "$1"); then
		t_fail "$3: point $1 does not restore"; tally lost
	elif [ "$got" = "$2" ]; then
		t_ok "$3: point $1 restores byte-exact"; tally restore
	else
		t_fail "$3: point $1 restores to different bytes"; tally wrong
	fi
}

# fsck_clean DEV WHAT: mount (the kernel replays the journal), unmount,
# then e2fsck -fn must find nothing.
fsck_clean() {
	local out
	mkdir -p /mnt/fsck
	if ! mount "$1" /mnt/fsck || ! umount /mnt/fsck; then
		t_fail "$2: does not mount"; return 1
	fi
	if out=$(e2fsck -fn "$1" 2>&1); then
		t_ok "$2: fsck clean after the journal replay"
	else
		t_fail "$2: fsck finds errors"; printf '%s\n' "$out" | tail -n 8 | sed 's/^/#   /'
	fi
}

# write_slot K: replace slotK the way a careful application does (temp
# file, fsync, rename, fsync of the directory), telling the host before
# and after.
write_slot() {
	local k=$1 h
	head -c 1M /dev/urandom >/tmp/slot
	h=$(sha256sum </tmp/slot | cut -c1-64)
	echo "power: writing $k $h"
	dd if=/tmp/slot of="$MNT/slot$k.tmp" bs=1M conv=fsync status=none &&
		mv "$MNT/slot$k.tmp" "$MNT/slot$k" && sync $MNT && echo "power: synced $k $h"
}

# backup_quiet TAG: with the file system unmounted (nothing writes), a
# backup; its point must be the disk as it is now.
backup_quiet() {
	local h p
	h=$(rawsum)
	cryptsnap backup $M --json >/tmp/b.json 2>/tmp/b.err ||
		{ t_fail "$1: backup"; sed 's/^/#   /' /tmp/b.err | tail -n 5; return 1; }
	p=$(jget point /tmp/b.json)
	echo "power: point $p $h"
	BMODE=$(jget mode /tmp/b.json) BPOINT=$p BSUM=$h
	t_ok "$1: backup $BMODE, point $p"
}

first_boot() {
	mkfs.ext4 -q -F $VDEV && mkfs.ext4 -q -F $SDEV || t_fail "mkfs"
	mount $SDEV $SYS && mount $VDEV /mnt/vault || t_fail "mount"
	mkdir -p $SYS/cow
	printf 'power cut passphrase' >$KEY && chmod 600 $KEY
	t_wipe $DATA
	cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file $KEY $DATA >/dev/null 2>&1
	cryptsetup open --key-file $KEY $DATA $M || t_fail "open"
	mkfs.ext4 -q -F /dev/mapper/$M
	t_check "vault init" cryptsnap vault init $VAULT
	t_check "protect" cryptsnap protect $M --vault $VAULT --key-file $KEY --cow-dir $SYS/cow
	mount /dev/mapper/$M $MNT || t_fail "mount data"
	for k in $(seq 0 $((SLOTS - 1))); do write_slot $k; done
	umount $MNT
	backup_quiet first
	mount /dev/mapper/$M $MNT
	for k in 0 1 2; do write_slot $k; done
	umount $MNT
	backup_quiet second
	sync
}

# --- the checks after a cut
check_boot() {
	local h0 out p s k want inflight_k inflight_h got n unknown
	fsck_clean $SDEV "system disk"
	fsck_clean $VDEV "vault disk"
	mount $SDEV $SYS && mount $VDEV /mnt/vault || { t_fail "mount system and vault disks"; return 1; }
	h0=$(rawsum)	# the protected disk as the cut left it

	out=$(cryptsnap boot $M 2>&1)
	t_diag "$out"
	case $out in
	*"tracking restarted"*) t_ok "boot restacks the target, tracking restarted with a reason" ;;
	*) t_fail "boot: $out" ;;
	esac
	t_check "the disk opens on the target" \
		cryptsetup open --key-file $KEY /dev/mapper/cryptsnap-$M $M
	fsck_clean /dev/mapper/$M "protected disk"

	# Every slot holds what was last fsynced, or the write in flight.
	mount /dev/mapper/$M $MNT || t_fail "mount data"
	inflight_k=$(cget inflight | awk '{ print $1 }') inflight_h=$(cget inflight | awk '{ print $2 }')
	n=0
	while read -r k want; do
		[ -n "$k" ] || continue
		got=$(sha256sum <$MNT/slot$k 2>/dev/null | cut -c1-64)
		if [ "$got" = "$want" ] || { [ "$k" = "$inflight_k" ] && [ "$got" = "$inflight_h" ]; }; then
			n=$((n + 1)); tally synced
		else
			t_fail "slot$k: fsynced data lost (${got:-missing})"; tally lost
		fi
	done < <(cget slot)
	t_ok "$n fsynced files hold their last synced or in-flight content"
	umount $MNT

	# Points: every one committed before the cut is listed and restores
	# byte-exact; the only other point allowed is the cut backup's, which
	# must hold the disk as the cut left it (the disk was quiet).
	list_points >/tmp/listed || t_fail "points"
	while read -r p s; do
		[ -n "$p" ] || continue
		if grep -qx "$p" /tmp/listed; then
			check_restore "$p" "$s" "committed before the cut"
		elif cget maybe | grep -qx "$p"; then
			t_ok "point $p removed by the cut prune"; echo "power: removed $p"
		else
			t_fail "point $p committed before the cut is missing"; tally lost
		fi
	done < <(cget point)
	unknown=$(grep -vxF -f <(cget point | awk '{ print $1 }'; echo none) /tmp/listed)
	for p in $unknown; do
		if [ "$PREV" = backup ] && [ "$(wc -w <<<"$unknown")" = 1 ]; then
			check_restore "$p" "$h0" "the cut backup's point, published before the cut"
			echo "power: point $p $h0"
		else
			t_fail "point $p was never committed by any backup"; tally wrong
		fi
	done

	if out=$(cryptsnap verify --vault $VAULT 2>&1); then
		t_ok "verify clean after the cut"
		tally verified "$(grep -c '^ok ' <<<"$out")"
	else
		t_fail "verify after the cut"; printf '%s\n' "$out" | tail -n 8 | sed 's/^/#   /'
	fi

	# The interrupted operation, run again.
	case $PREV in
	restore)
		p=$(cget point | head -n 1 | awk '{ print $1 }') s=$(cget point | head -n 1 | awk '{ print $2 }')
		if cryptsnap restore --vault $VAULT --point "$p" --to $RDEV --force >/tmp/r.log 2>&1; then
			got=$(head -c "$(blockdev --getsize64 $DATA)" $RDEV | sha256sum | cut -c1-64)
			[ "$got" = "$s" ] && { t_ok "restore run again to the device: byte-exact"; tally restore; } ||
				{ t_fail "restore run again: different bytes"; tally wrong; }
		else
			t_fail "restore run again"; sed 's/^/#   /' /tmp/r.log | tail -n 5
		fi ;;
	prune)
		if cryptsnap prune --vault $VAULT --keep-last 2 >/tmp/pr.log 2>&1; then
			t_ok "prune run again"
		else
			t_fail "prune run again"; sed 's/^/#   /' /tmp/pr.log | tail -n 5
		fi
		list_points >/tmp/listed
		cget point | awk '{ print $1 }' | grep -vxF -f /tmp/listed | sed 's/^/power: removed /' ;;
	rotate)
		t_check "key rotate run again" cryptsnap key rotate --vault $VAULT ;;
	esac

	# The next backup: a full scan that says why; it restores to the disk.
	backup_quiet "after the cut" || return 1
	[ "$BMODE" = full ] && t_ok "the next backup is a full scan" ||
		t_fail "the next backup is '$BMODE', tracking was lost with the cut"
	grep -q "full scan: change tracking was not continuous" /tmp/b.err &&
		t_ok "the backup says why: $(sed -n 's/.*full scan: //p' /tmp/b.err)" ||
		t_fail "no reason for the full scan: $(cat /tmp/b.err)"
	check_restore "$BPOINT" "$BSUM" "the restored image equals the disk"
	t_check "verify clean after the next backup" cryptsnap verify --vault $VAULT
	n=$(find $SYS/cow -type f | wc -l)
	[ "$n" = 0 ] && t_ok "no COW file left in the COW directory" ||
		t_fail "$n COW files left: $(ls $SYS/cow | tr '\n' ' ')"
}

# --- the operation the host cuts.  Each ends waiting for the kill.
export_trace() { export CRYPTSNAP_CRASH_LIST=/dev/ttyS1; }
op_write() {
	mount /dev/mapper/$M $MNT || t_fail "mount data"
	fio --name=load --filename=$MNT/load --size=24M --rw=randwrite --bs=64k \
		--ioengine=psync --time_based --runtime=300 --fsync=32 >/dev/null 2>&1 &
	local i=0
	while :; do
		write_slot $((i % SLOTS))
		i=$((i + 1))
		[ $i = 3 ] && echo "power: cut write"
	done
}
op_backup() {
	mount /dev/mapper/$M $MNT || t_fail "mount data"
	for k in $(seq 0 7); do write_slot $k; done
	fio --name=fill --filename=$MNT/load --size=24M --rw=write --bs=1M \
		--ioengine=psync --end_fsync=1 >/dev/null 2>&1
	umount $MNT
	local h; h=$(rawsum)
	echo "power: cut backup"
	CRYPTSNAP_CRASH_LIST=/dev/ttyS1 cryptsnap backup $M --json >/tmp/b.json 2>/tmp/b.err &&
		echo "power: point $(jget point /tmp/b.json) $h" && echo "power: op finished"
}
op_restore() {
	local p; p=$(cget point | head -n 1 | awk '{ print $1 }')
	echo "power: cut restore"
	CRYPTSNAP_CRASH_LIST=/dev/ttyS1 cryptsnap restore --vault $VAULT --point "$p" --to $RDEV --force &&
		echo "power: op finished"
}
op_prune() {
	find /mnt/vault/v -type f -exec touch -d '3 days ago' {} +
	cryptsnap prune --vault $VAULT --keep-last 2 --dry-run | awk '$1 == "would" { print "power: maybe", $3 }'
	echo "power: cut prune"
	CRYPTSNAP_CRASH_LIST=/dev/ttyS1 cryptsnap prune --vault $VAULT --keep-last 2 >/tmp/pr.log 2>&1 &&
		echo "power: op finished" && list_points >/tmp/listed &&
		cget point | awk '{ print $1 }' | grep -vxF -f /tmp/listed | sed 's/^/power: removed /'
}
op_rotate() {
	echo "power: cut rotate"
	CRYPTSNAP_CRASH_LIST=/dev/ttyS1 cryptsnap key rotate --vault $VAULT && echo "power: op finished"
}

if [ "$BOOT" = 1 ]; then
	first_boot
else
	check_boot
fi
case $OP in
write|backup|restore|prune|rotate)
	op_$OP
	sleep 600	# the host cuts the power
	t_fail "$OP: the power was not cut" ;;
none)
	cryptsnap unprotect $M >/dev/null 2>&1
	echo "power: done" ;;
*) t_fail "unknown operation '$OP'" ;;
esac
trap - EXIT
