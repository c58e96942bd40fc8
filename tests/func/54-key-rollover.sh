#!/bin/bash
# Issue 9: key rollover.  cryptsetup writes the LUKS header straight to the
# disk, below the cryptsnap target, so the change map never sees it.  After
# every header change (passphrase changed, added, removed, two changes
# between points, label, an older header restored, a change while a
# backup runs) the next point must restore, `--check-key` must pass with
# the key escrowed with that point, the restored disk must open with it
# and hold the files as they were at the snapshot, its escrowed header
# slot must equal the header in the restored image, and every older point
# must still open with its own escrowed key.  LUKS2 (default) or LUKS1
# (LUKS_TYPE=luks1, 55-key-rollover-luks1.sh).
. "$(dirname "$0")/lib.sh"

TYPE=${LUKS_TYPE:-luks2}
DISK=/dev/vdd			# 64M: restores of every point stay cheap
MNT=/mnt/54
t_tool_env 54 'passphrase one'
K=/tmp/54.k			# K.1 .. K.n: the passphrases in turn
cp "$KEY" $K.1
for i in 2 3 4 5 6 7; do printf 'passphrase %s' "$i" >$K.$i; chmod 600 $K.$i; done
FAST=("${LUKS_FAST[@]:1}")	# without --batch-mode for the key commands

t_wipe "$DISK"
cryptsetup luksFormat --type "$TYPE" "${LUKS_FAST[@]}" --key-file $K.1 "$DISK" >/dev/null 2>&1
cryptsetup luksHeaderBackup "$DISK" --header-backup-file /tmp/54.hdr.orig
cryptsetup open --key-file $K.1 "$DISK" data54 || t_fail "open"
t_cleanup_add "cryptsetup close data54"
mkfs.ext4 -q -F /dev/mapper/data54
mkdir -p $MNT /mnt/r54 && mount /dev/mapper/data54 $MNT
t_cleanup_add "umount $MNT"
t_cleanup_add "cryptsnap unprotect data54"
cryptsnap vault init "$VAULT" >/dev/null
t_check "$TYPE: protect" cryptsnap protect data54 --vault "$VAULT" --key-file $K.1 --cow-dir /tmp

POINTS=()			# "point key-index sums-file"
n=0

# write_file NAME: new content, remembered as the expected state.
write_file() {
	head -c 700k /dev/urandom >"$MNT/$1"
	sync
}

# backup_point KEYIDX [MODE]: a backup that must succeed; the point is
# remembered with the files as they are now and the key it must open with.
backup_point() {
	local want=${2:-} mode
	n=$((n + 1))
	(cd $MNT && sha256sum f*) >/tmp/54.sums.$n
	if ! cryptsnap backup data54 --json >/tmp/54.b$n 2>/tmp/54.b$n.err; then
		t_fail "backup $n: $(tail -n 3 /tmp/54.b$n.err)"
		return 1
	fi
	mode=$(jget mode /tmp/54.b$n)
	[ -z "$want" ] || [ "$mode" = "$want" ] || t_fail "backup $n is $mode, expected $want"
	POINTS+=("$(jget point /tmp/54.b$n) $1 /tmp/54.sums.$n")
	return 0
}

# open_point POINT KEYIDX SUMS: restore, check key, compare header slot
# with the image's header, open with the escrowed key, fsck, files.
open_point() {
	local p=$1 k=$2 sums=$3 ok=0 hb loop
	rm -rf /tmp/54.esc /tmp/54.img
	cryptsnap restore --point "$p" --to /tmp/54.img --check-key --escrow-dir /tmp/54.esc \
		>/dev/null 2>/tmp/54.r.err || { cat /tmp/54.r.err; return 1; }
	cmp -s /tmp/54.esc/key $K.$k || { echo "escrowed key is not passphrase $k"; return 1; }
	hb=$(stat -c %s /tmp/54.esc/luks-header)
	cmp -n "$hb" /tmp/54.esc/luks-header /tmp/54.img ||
		{ echo "escrowed header differs from the image's"; return 1; }
	loop=$(losetup -f --show -r /tmp/54.img) || return 1
	if cryptsetup open --readonly --key-file /tmp/54.esc/key "$loop" r54; then
		e2fsck -fn /dev/mapper/r54 >/dev/null 2>&1 &&
			mount -o ro,noload /dev/mapper/r54 /mnt/r54 &&
			(cd /mnt/r54 && sha256sum -c --quiet "$sums") && ok=1
		umount /mnt/r54 2>/dev/null
		cryptsetup close r54
	else
		echo "restored image does not open with the escrowed key"
	fi
	losetup -d "$loop"
	rm -f /tmp/54.img
	[ $ok = 1 ]
}

check_last() {	# DESCRIPTION
	local p=(${POINTS[-1]})
	t_check "$TYPE: $1: point restores, opens with its escrowed key, files as at the snapshot" \
		open_point "${p[@]}"
}

write_file f1
backup_point 1 full && check_last "first point"

# The issue's scenario: passphrase changed, re-escrowed, a file written.
cryptsetup luksChangeKey "${FAST[@]}" --key-file $K.1 "$DISK" $K.2
t_check "$TYPE: key escrow of the new passphrase" cryptsnap key escrow data54 --key-file $K.2
write_file f2
backup_point 2 incremental && check_last "after luksChangeKey"
t_check "$TYPE: the stored header no longer opens with the old passphrase" bash -c "
	! cryptsetup open --test-passphrase --key-file $K.1 --header /tmp/54.esc/luks-header $DISK"

# A passphrase added: the escrowed one still opens; then the escrowed one
# removed: the backup refuses until the new one is escrowed.
cryptsetup luksAddKey "${FAST[@]}" --key-file $K.2 "$DISK" $K.3
write_file f3
backup_point 2 incremental && check_last "after luksAddKey"
slot=$(cryptsetup open --test-passphrase -v --key-file $K.2 "$DISK" 2>&1 | sed -n 's/^Key slot \([0-9]*\) unlocked.*/\1/p')
cryptsetup luksKillSlot --batch-mode --key-file $K.3 "$DISK" "$slot"
cryptsnap backup data54 >/dev/null 2>/tmp/54.kill.err
[ $? = 4 ] && t_ok "$TYPE: after luksKillSlot of the escrowed key the backup refuses (exit 4)" ||
	t_fail "$TYPE: backup after luksKillSlot: $(cat /tmp/54.kill.err)"
t_check "$TYPE: escrow the remaining passphrase" cryptsnap key escrow data54 --key-file $K.3
write_file f4
backup_point 3 incremental && check_last "after luksKillSlot"

# Two changes between points.
cryptsetup luksChangeKey "${FAST[@]}" --key-file $K.3 "$DISK" $K.4
cryptsetup luksChangeKey "${FAST[@]}" --key-file $K.4 "$DISK" $K.5
cryptsnap key escrow data54 --key-file $K.5 >/dev/null
write_file f1
backup_point 5 incremental && check_last "after two changes between points"

# Label / subsystem (LUKS2 metadata only): header changes, layout does not.
if [ "$TYPE" = luks2 ]; then
	cryptsetup config --label backup54 --subsystem test "$DISK"
	write_file f2
	backup_point 5 incremental && check_last "after cryptsetup config --label"
	t_check "$TYPE: the restored header carries the new label" bash -c \
		"cryptsetup luksDump /tmp/54.esc/luks-header | grep -q 'Label:.*backup54'"
fi

# An older header backup restored: passphrase 1 opens the disk again.
cryptsetup luksHeaderRestore --batch-mode "$DISK" --header-backup-file /tmp/54.hdr.orig
cryptsnap key escrow data54 --key-file $K.1 >/dev/null
write_file f3
backup_point 1 incremental && check_last "after luksHeaderRestore of the first header"

# A passphrase change while a backup runs: either the backup stores a
# point that opens with the key escrowed with it, or it stores nothing
# and says why.  Never a point that does not open.
cnt=$(cryptsnap points --vault "$VAULT" | grep -c .)
write_file f4
(cd $MNT && sha256sum f*) >/tmp/54.sums.race
cryptsnap backup data54 --json >/tmp/54.race 2>/tmp/54.race.err &
bpid=$!
cryptsetup luksChangeKey "${FAST[@]}" --key-file $K.1 "$DISK" $K.6
wait $bpid
rc=$?
if [ $rc = 0 ]; then
	p=$(jget point /tmp/54.race)
	key=1
	cmp -s <(cryptsnap restore --point "$p" --to /tmp/54.x --escrow-dir /tmp/54.esc2 >/dev/null 2>&1;
		 cat /tmp/54.esc2/key) $K.6 && key=6
	rm -rf /tmp/54.x /tmp/54.esc2
	t_check "$TYPE: a point taken while the passphrase changed opens with its escrowed key" \
		open_point "$p" $key /tmp/54.sums.race
else
	t_diag "backup during luksChangeKey refused (rc $rc): $(tail -n 1 /tmp/54.race.err)"
	[ "$(cryptsnap points --vault "$VAULT" | grep -c .)" = "$cnt" ] &&
		t_ok "$TYPE: a backup refused during a passphrase change stored no point" ||
		t_fail "$TYPE: a refused backup left a point behind"
fi
cryptsnap key escrow data54 --key-file $K.6 >/dev/null
write_file f1
backup_point 6 incremental && check_last "one backup after the change during a backup"

# A data layout change below the target is caught: the next backup is a
# full scan and says why.  LUKS2 online reencryption through the origin
# (new volume key, new digest).
if [ "$TYPE" = luks2 ]; then
	if cryptsetup reencrypt --batch-mode "${FAST[@]}" --key-file $K.6 --resilience none \
		--active-name data54 >/tmp/54.reenc.log 2>&1; then
		write_file f2
		backup_point 6 full && check_last "after online reencryption"
		grep -q 'volume key changed' /tmp/54.b$n.err &&
			t_ok "$TYPE: the backup after reencryption says why it is a full scan" ||
			t_fail "$TYPE: no reason given: $(cat /tmp/54.b$n.err)"
	else
		t_fail "$TYPE: online reencryption failed: $(tail -n 3 /tmp/54.reenc.log)"
	fi
fi

# Every point, old and new, still opens with the key escrowed with it,
# after a KEK rotation too.
t_check "$TYPE: KEK rotation" cryptsnap key rotate --vault "$VAULT"
bad=0
for e in "${POINTS[@]}"; do
	open_point $e >/tmp/54.all.err 2>&1 || { bad=$((bad + 1)); t_diag "point $e: $(tail -n 2 /tmp/54.all.err)"; }
done
[ $bad = 0 ] && t_ok "$TYPE: all ${#POINTS[@]} points open with their own escrowed keys after rotation" ||
	t_fail "$TYPE: $bad of ${#POINTS[@]} points do not open"

umount $MNT
t_check "$TYPE: fsck clean at the end" e2fsck -fn /dev/mapper/data54
t_cleanup
rm -rf /tmp/54.*
