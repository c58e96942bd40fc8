#!/bin/bash
# Issue 14: unprotect of a mapping that cryptsetup or systemd-cryptsetup
# opened (after a reboot through crypttab): its LUKS2 volume key sits in
# the kernel keyring, gone after activation, so the crypt table cannot be
# reloaded from what the kernel shows.  unprotect then either takes the
# passphrase (--key-file) and puts the mapping back on the disk, or leaves
# the target's device as a linear pass-through (tracking stopped, I/O
# unchanged) that a later protect reuses and a later unprotect removes.
# Every state change is followed by a backup and a byte-exact restore.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc			# 256M, protected
RESTORE=/dev/vdb		# 512M, restore target
M=data59
O=cryptsnap-$M
t_tool_env 59 'keyring passphrase'
printf 'not the passphrase' >/tmp/59.wrong

t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" $M || t_fail "open"
mkfs.ext4 -q -F /dev/mapper/$M
t_cleanup_add "cryptsnap unprotect $M --key-file $KEY"
t_cleanup_add "cryptsetup close $M"
t_cleanup_add "umount /mnt/59"
mkdir -p /mnt/59
t_check "vault init" cryptsnap vault init "$VAULT"

ttype() { dmsetup table "$1" 2>/dev/null | awk '{print $3}'; }
# The device the mapping sits on, as major:minor.
under() { dmsetup deps -o devno "$1" | sed -n 's/.*(\([0-9]*\), \([0-9]*\)).*/\1:\2/p'; }
devno() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }

change() {
	mount /dev/mapper/$M /mnt/59 &&
		head -c 1M /dev/urandom >/mnt/59/"$1" && sync && umount /mnt/59
}

# backup_restore TAG: a backup, then its point restored byte for byte.
backup_restore() {
	local tag=$1 p
	change "$tag" || t_fail "$tag: write"
	if ! cryptsnap backup $M --json >/tmp/59.$tag 2>/tmp/59.$tag.err; then
		t_fail "$tag: backup"
		sed 's/^/#   /' /tmp/59.$tag.err
		return
	fi
	p=$(jget point /tmp/59.$tag)
	t_check "$tag: backup, restore point ${p:-?}, equal to the disk" bash -c \
		"cryptsnap restore --point '$p' --to $RESTORE --force >/dev/null &&
		 blockdev --flushbufs $DISK $RESTORE &&
		 cmp -n \$(blockdev --getsize64 $DISK) $RESTORE $DISK"
}

# reopen_by_cryptsetup: what crypttab does at boot, on the target.
reopen_by_cryptsetup() {
	cryptsetup close $M &&
		cryptsetup open --key-file "$KEY" /dev/mapper/$O $M
}

keyring_key() { dmsetup table --showkeys $M | awk '{print $5}' | grep -q '^:'; }

t_check "protect (mapping open)" cryptsnap protect $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
backup_restore first
reopen_by_cryptsetup || t_fail "cryptsetup open on the target"
if ! keyring_key; then
	t_skip "cryptsetup did not put the volume key in the kernel keyring here"
	t_cleanup
	exit 0
fi
t_ok "cryptsetup's table names its key in the kernel keyring"
backup_restore keyring

# A wrong passphrase is refused and changes nothing.
cryptsnap unprotect $M --key-file /tmp/59.wrong >/dev/null 2>&1
t_check "unprotect with a wrong key: exit 4" test $? = 4
t_check "... target still in place" test "$(ttype $O)" = cryptsnap
t_check "... disk still protected" cryptsnap status $M

# Without a key: a pass-through stays, I/O unchanged.
cryptsnap unprotect $M >/tmp/59.unprot 2>&1
t_check "unprotect without a key succeeds" test $? = 0
t_check "... and says a pass-through stays" grep -q 'pass-through' /tmp/59.unprot
t_check "... the target is now linear" test "$(ttype $O)" = linear
t_check "... the mapping still sits on it" test "$(under $M)" = "$(devno /dev/mapper/$O)"
t_refuse "... the disk is forgotten" cryptsnap status $M
t_check "... the mapping reads and writes" bash -c \
	"mount /dev/mapper/$M /mnt/59 && head -c 2M /dev/urandom >/mnt/59/through &&
	 sync && md5sum /mnt/59/through >/tmp/59.md5 && umount /mnt/59 &&
	 echo 3 >/proc/sys/vm/drop_caches && mount /dev/mapper/$M /mnt/59 &&
	 md5sum -c --quiet /tmp/59.md5 && umount /mnt/59"
t_check "... the pass-through maps the disk 1:1" cmp /dev/mapper/$O $DISK
cryptsnap unprotect $M >/tmp/59.busy 2>&1
t_check "unprotect again while the mapping is open: refused" test $? != 0
t_check "... with a clear line" grep -q 'still in use' /tmp/59.busy

# protect reuses the pass-through live.
t_check "protect again (reuses the pass-through)" \
	cryptsnap protect $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
t_check "... the target is back" test "$(ttype $O)" = cryptsnap
t_check "... the mapping did not move" test "$(under $M)" = "$(devno /dev/mapper/$O)"
backup_restore reprotect
backup_restore reprotect.more

# With the passphrase: the mapping goes back onto the disk.
t_check "unprotect --key-file" cryptsnap unprotect $M --key-file "$KEY"
t_check "... the mapping sits on the disk" test "$(under $M)" = "$(devno $DISK)"
t_refuse "... the target is gone" dmsetup info $O
t_check "... files intact" bash -c "mount -o ro /dev/mapper/$M /mnt/59 &&
	md5sum -c --quiet /tmp/59.md5 && umount /mnt/59"

# A pass-through left under a mapping that is then closed: protect with
# the mapping closed reuses it; unprotect run again removes it.
t_check "protect again" cryptsnap protect $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
reopen_by_cryptsetup || t_fail "cryptsetup open on the target"
t_check "unprotect (pass-through)" cryptsnap unprotect $M
cryptsetup close $M
t_check "protect the closed disk (reuses the pass-through)" \
	cryptsnap protect $DISK --name $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
t_check "... the target is back under the opened mapping" bash -c \
	"test \"\$(dmsetup table $O | awk '{print \$3}')\" = cryptsnap &&
	 dmsetup info $M >/dev/null"
backup_restore closed
reopen_by_cryptsetup || t_fail "cryptsetup open on the target"
t_check "unprotect (pass-through) once more" cryptsnap unprotect $M
cryptsetup close $M
t_check "unprotect after close removes the pass-through" bash -c \
	"cryptsnap unprotect $M | grep -q 'removed the pass-through'"
t_refuse "... it is gone" dmsetup info $O
t_refuse "unprotect of an unknown disk still fails" cryptsnap unprotect $M
cryptsetup open --key-file "$KEY" "$DISK" $M || t_fail "open on the disk"
t_check "protect once more" cryptsnap protect $M --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
backup_restore last
t_check "all points verify" cryptsnap verify --vault "$VAULT"

t_cleanup
rm -rf /tmp/59.*
