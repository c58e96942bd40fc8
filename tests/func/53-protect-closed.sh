#!/bin/bash
# Issue 5: protecting a closed LUKS device opens the mapping on top of the
# target; a COW directory on the protected disk itself is refused.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc
t_tool_env 53 'closed disk'

t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsnap vault init "$VAULT" >/dev/null
t_refuse "a closed device needs a --name" cryptsnap protect "$DISK" --vault "$VAULT" --key-file "$KEY"
t_refuse "an unknown device is refused" cryptsnap protect /dev/nonexistent --vault "$VAULT" --key-file "$KEY"
t_refuse "a device without LUKS is refused" cryptsnap protect /dev/vdd --name x53 --vault "$VAULT" --key-file "$KEY"
t_check "protect the closed device" cryptsnap protect "$DISK" --name closed53 --vault "$VAULT" \
	--key-file "$KEY" --cow-dir /tmp
t_cleanup_add "cryptsetup close closed53"
t_cleanup_add "cryptsnap unprotect closed53"
t_check "mapping opened on top of the target" bash -c \
	"dmsetup deps -o devname closed53 | grep -q cryptsnap-closed53"
mkfs.ext4 -q -F /dev/mapper/closed53
mkdir -p /mnt/53 && mount /dev/mapper/closed53 /mnt/53
t_cleanup_add "umount /mnt/53"
head -c 2M /dev/urandom >/mnt/53/a; sync
(cd /mnt/53 && sha256sum a) >/tmp/53.sums
# A COW directory on the protected filesystem would copy the disk into itself.
mkdir -p /mnt/53/cow
cryptsnap unprotect closed53 >/dev/null
t_refuse "a COW directory on the protected disk is refused" cryptsnap protect closed53 \
	--vault "$VAULT" --key-file "$KEY" --cow-dir /mnt/53/cow
t_check "re-protect the open mapping" cryptsnap protect closed53 --vault "$VAULT" \
	--key-file "$KEY" --cow-dir /tmp
t_check "backup" cryptsnap backup closed53
P=$(cryptsnap points --vault "$VAULT" --json | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | tail -n1)
t_check "restore with key check" cryptsnap restore --point "$P" --to /dev/vdb --force --check-key \
	--escrow-dir /tmp/53.esc
t_check "restored disk opens and holds the file" bash -c \
	"cryptsetup open --key-file /tmp/53.esc/key /dev/vdb r53 && mkdir -p /mnt/r53 &&
	 mount -o ro /dev/mapper/r53 /mnt/r53 && (cd /mnt/r53 && sha256sum -c /tmp/53.sums);
	 rc=\$?; umount /mnt/r53; cryptsetup close r53; exit \$rc"
t_cleanup
rm -rf /tmp/53.*
