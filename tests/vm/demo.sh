#!/bin/bash
# `make demo`: the main job, told step by step, inside the test VM.
# A mounted ext4-on-LUKS2 disk is protected live, backed up fully and then
# incrementally while it is being written, its LUKS passphrase is changed
# and one more point is taken, the vault KEK is rotated, and all three
# recovery points are restored and opened with the keys escrowed with them.
set -u
DISK=/dev/vdc				# the VM's encrypted data disk (256 MiB)
VAULT=/var/backups/vault
KEY=/root/disk.key
step=0
say() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
run() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; return "${PIPESTATUS[0]}"; }
die() { echo; echo "demo: FAILED: $*"; exit 1; }
jget() { sed -n "s/.*\"$1\": *\"*\([^\",]*\).*/\1/p" "$2"; }

mkdir -p /root /var/backups
printf 'owner passphrase one' >"$KEY"; chmod 600 "$KEY"

say "A VM with an encrypted disk: LUKS2 on $DISK, opened as 'data', ext4 mounted on /srv"
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$KEY" "$DISK" >/dev/null 2>&1 || die "luksFormat"
cryptsetup open --key-file "$KEY" "$DISK" data || die "open"
mkfs.ext4 -q -F /dev/mapper/data && mkdir -p /srv && mount /dev/mapper/data /srv || die "mkfs/mount"
for f in invoices.db photos.tar notes.txt; do head -c 4M /dev/urandom >/srv/$f; done
sync
(cd /srv && sha256sum invoices.db photos.tar notes.txt) >/root/sums.point1
sed 's/^/      /' /root/sums.point1

say "Create the vault (local directory, vault-managed KEK)"
run cryptsnap vault init "$VAULT" || die "vault init"

say "Protect the live disk: key checked and escrowed, target stacked under dm-crypt (no unmount)"
run cryptsnap protect data --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp || die "protect"
run dmsetup ls --tree
run cryptsnap status data

say "First backup: a full copy of the ciphertext, read from a snapshot"
cryptsnap backup data --json >/root/b1.json 2>/root/b1.err || { cat /root/b1.err; die "backup 1"; }
P1=$(jget point /root/b1.json)
sed 's/^/      /' /root/b1.err
echo "      point $P1: mode $(jget mode /root/b1.json), read $(( $(jget bytes_read /root/b1.json) >> 20 )) MiB, freeze $(printf %.1f "$(jget freeze_ms /root/b1.json)") ms"

say "The VM keeps working: notes.txt changes; an incremental backup runs while a writer is busy"
head -c 1M /dev/urandom | dd of=/srv/notes.txt bs=1M seek=2 conv=notrunc,fsync status=none
sync
(cd /srv && sha256sum invoices.db photos.tar notes.txt) >/root/sums.point2
( for i in $(seq 1 40); do head -c 256k /dev/urandom >>/srv/busy.log; sync; done ) &
writer=$!
cryptsnap backup data --json >/root/b2.json 2>/root/b2.err || { cat /root/b2.err; die "backup 2"; }
wait $writer
P2=$(jget point /root/b2.json)
echo "      point $P2: mode $(jget mode /root/b2.json), read $(jget chunks_read /root/b2.json) changed chunks" \
	"($(( $(jget bytes_read /root/b2.json) >> 10 )) KiB of $(( $(blockdev --getsize64 $DISK) >> 20 )) MiB), freeze $(printf %.1f "$(jget freeze_ms /root/b2.json)") ms"

say "The owner rotates the disk's LUKS passphrase; the next backup notices the stale escrow"
printf 'owner passphrase two' >/root/disk.key2; chmod 600 /root/disk.key2
cryptsetup luksChangeKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$KEY" "$DISK" /root/disk.key2 || die "luksChangeKey"
run cryptsnap backup data && die "backup with a stale escrowed key was accepted"
run cryptsnap key escrow data --key-file /root/disk.key2 || die "key escrow"

say "One more point after the passphrase change: the header is re-read from the snapshot every time"
echo "first line of the new notes" >/srv/after-change.txt; sync
(cd /srv && sha256sum invoices.db photos.tar notes.txt after-change.txt) >/root/sums.point3
cryptsnap backup data --json >/root/b3.json 2>/root/b3.err || { cat /root/b3.err; die "backup 3"; }
P3=$(jget point /root/b3.json)
echo "      point $P3: mode $(jget mode /root/b3.json), read $(jget chunks_read /root/b3.json) chunks" \
	"(the LUKS header area and the changed ones); the stored header was proven to open with the new key"

say "The vault KEK is rotated: keys re-wrapped, no data re-encrypted"
run cryptsnap key rotate --vault "$VAULT" || die "key rotate"
run cryptsnap key show --vault "$VAULT"

say "Recovery points in the vault"
run cryptsnap points --vault "$VAULT"
run cryptsnap verify --vault "$VAULT" || die "verify"

say "Restoring onto the live disk is refused"
run cryptsnap restore --point "$P1" --to "$DISK" --force && die "restore onto the live disk was accepted"

say "Restore both points to new disks; prove the escrowed keys open them (no plaintext read)"
run cryptsnap restore --point "$P1" --to /dev/vdb --force --check-key --escrow-dir /root/escrow1 || die "restore 1"
truncate -s 0 /tmp/restored2.img
run cryptsnap restore --point "$P2" --to /tmp/restored2.img --force --check-key --escrow-dir /root/escrow2 || die "restore 2"
truncate -s 0 /tmp/restored3.img
run cryptsnap restore --point "$P3" --to /tmp/restored3.img --force --check-key --escrow-dir /root/escrow3 || die "restore 3"

compare() {	# device escrowdir sums label
	cryptsetup open --key-file "$2/key" "$1" "$4" || return 1
	mkdir -p "/mnt/$4" && mount -o ro "/dev/mapper/$4" "/mnt/$4" || return 1
	(cd "/mnt/$4" && sha256sum -c "$3") | sed 's/^/      /'
	local rc=${PIPESTATUS[0]}
	umount "/mnt/$4"; cryptsetup close "$4"
	return "$rc"
}
say "Open the restored disks with the escrowed keys and compare with the snapshot moments"
echo "    point 1 (first passphrase, escrowed with point 1):"
compare /dev/vdb /root/escrow1 /root/sums.point1 restored1 || die "point 1 differs"
loop=$(losetup -f --show /tmp/restored2.img)
echo "    point 2:"
compare "$loop" /root/escrow2 /root/sums.point2 restored2 || die "point 2 differs"
losetup -d "$loop"
loop=$(losetup -f --show /tmp/restored3.img)
echo "    point 3 (second passphrase, escrowed with point 3):"
cmp -s /root/escrow3/key /root/disk.key2 || die "point 3 did not escrow the new passphrase"
compare "$loop" /root/escrow3 /root/sums.point3 restored3 || die "point 3 differs"
losetup -d "$loop"; rm -f /tmp/restored2.img /tmp/restored3.img

say "Unprotect: the target is stacked out live, the filesystem never noticed"
run cryptsnap unprotect data || die "unprotect"
umount /srv && e2fsck -fn /dev/mapper/data >/dev/null 2>&1 && echo "      fsck: clean" || die "fsck"
cryptsetup close data

echo
echo "demo: OK — three recovery points of an encrypted disk, stored and restored as ciphertext,"
echo "      each opened with the key escrowed next to it, after a passphrase and a KEK rotation."
