#!/bin/bash
# Issue 5, the main story: protect a mounted ext4-on-LUKS disk, back it up
# fully and incrementally while it is written, restore points to new
# disks and open them with the escrowed keys; refusals; key rotations.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc			# 256M, protected
t_tool_env 50 'first passphrase'

t_wipe "$DISK"
cryptsetup luksFormat --type "${LUKS_TYPE:-luks2}" "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" data50 || t_fail "open"
t_cleanup_add "cryptsetup close data50"
# No lazy init: ext4lazyinit would zero inode tables in the background
# after mount and those writes (tens of MiB) land in the incremental.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/data50
mkdir -p /mnt/50 && mount /dev/mapper/data50 /mnt/50
t_cleanup_add "umount /mnt/50"
t_cleanup_add "cryptsnap unprotect data50"
for i in 1 2 3 4; do head -c 3M /dev/urandom >/mnt/50/f$i; done
sync
(cd /mnt/50 && sha256sum f1 f2 f3 f4) >/tmp/50.sums1

t_check "vault init" cryptsnap vault init "$VAULT"
printf 'wrong' >/tmp/50.bad
t_refuse "protect with a wrong key is refused" cryptsnap protect data50 --vault "$VAULT" --key-file /tmp/50.bad
cryptsnap protect data50 --vault "$VAULT" --key-file /tmp/50.bad >/dev/null 2>&1
[ $? = 4 ] && t_ok "wrong key exits 4" || t_fail "wrong key exit code"
t_check "protect the open, mounted mapping" cryptsnap protect data50 --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
t_check "mapping now sits on the cryptsnap target" bash -c \
	"dmsetup deps -o devname data50 | grep -q cryptsnap-data50"
t_check "filesystem still mounted and writable" bash -c "echo x >/mnt/50/alive && sync"
t_refuse "protecting twice is refused" cryptsnap protect data50 --vault "$VAULT" --key-file "$KEY"
t_check "status shows tracking" bash -c "cryptsnap status data50 | grep -q 'tracking'"

cryptsnap backup data50 --json >/tmp/50.b1 2>/tmp/50.b1.err
t_check "first backup succeeds" grep -q '"point"' /tmp/50.b1
t_check "first backup is a full scan and says why" grep -q 'first recovery point' /tmp/50.b1.err
P1=$(jget point /tmp/50.b1)

# Change one file, then back up while another file is being written.
head -c 1M /dev/urandom | dd of=/mnt/50/f2 bs=1M seek=1 conv=notrunc,fsync status=none
sync
(cd /mnt/50 && sha256sum f1 f2 f3 f4) >/tmp/50.sums2
( for i in $(seq 1 30); do head -c 256k /dev/urandom >/mnt/50/during; sync; done ) &
wpid=$!
cryptsnap backup data50 --json >/tmp/50.b2 2>/tmp/50.b2.err
b2=$?
wait $wpid
[ $b2 = 0 ] && t_ok "incremental backup while writing" || { t_fail "incremental backup"; cat /tmp/50.b2.err; }
t_check "second backup is incremental" test "$(jget mode /tmp/50.b2)" = incremental
read_chunks=$(jget chunks_read /tmp/50.b2)
total=$(( $(blockdev --getsize64 "$DISK") / 65536 ))
t_diag "incremental read $read_chunks of $total chunks"
[ -n "$read_chunks" ] && [ "$read_chunks" -gt 0 ] && [ "$read_chunks" -lt $((total / 8)) ] &&
	t_ok "incremental copied only changed chunks ($read_chunks of $total)" ||
	t_fail "incremental read $read_chunks of $total chunks"
P2=$(jget point /tmp/50.b2)
# Issue 14: backup DISK records its job; --follow of it ends with its point.
J2=$(cryptsnap jobs --vault "$VAULT" | awk '$2 == "backup" && $3 == "done" { id = $1 } END { print id }')
t_check "backup DISK recorded a done job" test -n "$J2"
t_check "jobs --follow of it: done with its point" bash -c \
	"cryptsnap jobs --vault '$VAULT' --follow '$J2' | grep -q 'backup data50: done, .*point $P2\$'"

t_refuse "restore onto the live protected disk is refused" \
	cryptsnap restore --point "$P1" --to "$DISK" --force
t_check "restore point 1 to a new disk, escrowed key opens it" \
	cryptsnap restore --point "$P1" --to /dev/vdb --force --check-key --escrow-dir /tmp/50.esc1
t_check "restore point 2 to a file, escrowed key opens it" \
	cryptsnap restore --point "$P2" --to /tmp/50.img2 --check-key --escrow-dir /tmp/50.esc2

check_restored() {	# dev sums
	local dev=$1 sums=$2 ok=0
	cryptsetup open --key-file /tmp/50.esc1/key "$dev" r50 2>/dev/null ||
		cryptsetup open --key-file /tmp/50.esc2/key "$dev" r50 || return 1
	mkdir -p /mnt/r50
	e2fsck -fn /dev/mapper/r50 >/dev/null 2>&1 &&
		mount -o ro /dev/mapper/r50 /mnt/r50 &&
		(cd /mnt/r50 && sha256sum -c --quiet "$sums") && ok=1
	umount /mnt/r50 2>/dev/null
	cryptsetup close r50
	[ $ok = 1 ]
}
t_check "point 1 opens with its escrowed key, fsck clean, files as at snapshot 1" \
	check_restored /dev/vdb /tmp/50.sums1
LOOP=$(losetup -f --show /tmp/50.img2)
t_cleanup_add "losetup -d $LOOP"
t_check "point 2 opens, fsck clean, files as at snapshot 2" check_restored "$LOOP" /tmp/50.sums2
losetup -d "$LOOP"

# The owner changes the LUKS passphrase and forgets to re-escrow.
printf 'second passphrase' >/tmp/50.key2; chmod 600 /tmp/50.key2
cryptsetup luksChangeKey "${LUKS_FAST[@]:1}" --key-file "$KEY" "$DISK" /tmp/50.key2
cryptsnap backup data50 >/dev/null 2>/tmp/50.b3.err
rc=$?
[ $rc = 4 ] && grep -q "cryptsnap key escrow data50" /tmp/50.b3.err &&
	t_ok "backup refuses a stale escrowed key and says how to fix it" ||
	t_fail "stale escrow: rc=$rc $(cat /tmp/50.b3.err)"
t_check "key escrow with the new passphrase" cryptsnap key escrow data50 --key-file /tmp/50.key2
t_check "backup after re-escrow" cryptsnap backup data50
t_check "KEK rotation" cryptsnap key rotate --vault "$VAULT"
t_check "old point 1 restores after both rotations, key checked" \
	cryptsnap restore --point "$P1" --to /tmp/50.img1 --check-key
rm -f /tmp/50.img1 /tmp/50.img2

# Simulated reboot: the mapping comes back on the raw disk, no target.
orig=$(dmsetup table --showkeys data50)
bdev=$(printf '%d:%d' "0x$(stat -L -c %t "$DISK")" "0x$(stat -L -c %T "$DISK")")
new=$(echo "$orig" | awk -v b="$bdev" '{ $7 = b; print }')
dmsetup reload data50 --table "$new" && dmsetup suspend data50 && dmsetup resume data50
dmsetup remove cryptsnap-data50
cryptsnap backup data50 >/dev/null 2>/tmp/50.b4.err
rc=$?
[ $rc = 0 ] && grep -q 'full scan' /tmp/50.b4.err && grep -q 're-stacked' /tmp/50.b4.err &&
	t_ok "after a simulated reboot the backup re-stacks and does a full scan" ||
	t_fail "reboot case: rc=$rc $(cat /tmp/50.b4.err)"

t_check "unprotect stacks the target out live" cryptsnap unprotect data50
t_check "mapping is back on the raw disk" bash -c "! dmsetup ls | grep -q cryptsnap-data50"
t_check "filesystem still writable" bash -c "echo y >/mnt/50/alive2 && sync"
umount /mnt/50
t_check "fsck clean at the end" e2fsck -fn /dev/mapper/data50
t_cleanup
rm -rf /tmp/50.*
