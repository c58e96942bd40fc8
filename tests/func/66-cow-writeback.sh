#!/bin/bash
# Issue 15, a COW write lost at writeback must not become a wrong point.
#
# The COW store is a sparse file on a loop device, written through the
# page cache: the kernel target's COW write completes when the page is
# dirty, long before the disk sees it.  If writeback then fails, the page
# is clean again and can be evicted; the snapshot's next read of that
# chunk comes from the disk (zeros: the extent was never written) and no
# one reports an error.  Made to happen here on purpose, while the backup
# is paused in its post-thaw hook: the COW filesystem's device starts
# failing writes, 8 MiB of the disk are overwritten (their old contents
# go to the COW file), `sync` makes the writeback fail and drop_caches
# evicts those pages.  The backup must then fail with one clear line and
# publish nothing; once the device is healthy again the next backup works
# and every point restores byte-exact against the ciphertext read in the
# pre-freeze hook.
. "$(dirname "$0")/lib.sh"

SZ=$((64 << 11))		# the protected disk: 64 MiB of /dev/vdc
CSZ=$(t_sectors /dev/vdd)	# the COW directory's filesystem: all of /dev/vdd
MAP=/dev/mapper/d66 CM=/mnt/66c
rm -rf /tmp/66.*
t_tool_env 66 'cow writeback passphrase'

t_wipe /dev/vdc
dmsetup create bk66 --table "0 $SZ linear /dev/vdc 0" || { t_fail "bk66"; exit 1; }
t_cleanup_add "dmsetup remove bk66"
dmsetup create cw66 --table "0 $CSZ linear /dev/vdd 0" || { t_fail "cw66"; exit 1; }
t_cleanup_add "dmsetup remove cw66"
# No journal: a journal write failing would abort it and, on 6.12, shut
# the filesystem down so that the evicted pages fail to read (a clean
# failure, but not the silent one this test is about).
mkfs.ext4 -q -F -O ^has_journal /dev/mapper/cw66 || { t_fail "mkfs"; exit 1; }
mkdir -p $CM
mount /dev/mapper/cw66 $CM || { t_fail "mount"; exit 1; }
t_cleanup_add "umount $CM"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" /dev/mapper/bk66 >/tmp/66.fmt 2>&1 || { t_fail "luksFormat: $(tail -n 2 /tmp/66.fmt)"; exit 1; }
cryptsetup open --key-file "$KEY" /dev/mapper/bk66 d66 || { t_fail "open"; exit 1; }
t_cleanup_add "cryptsetup close d66"
t_cleanup_add "cryptsnap unprotect d66"
dd if=/dev/urandom of=$MAP bs=1M count=$(($(blockdev --getsize64 $MAP) >> 20)) oflag=direct status=none

# Truth: the backing device's bytes at the snapshot moment (nothing
# writes the mapping between this hook and the snapshot).
cat >/tmp/66.pre <<'HOOK'
#!/bin/bash
dd if=/dev/mapper/bk66 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1 >/tmp/66.truth.cur
HOOK
# With /tmp/66.fault: lose COW writes at writeback, then evict them.
cat >/tmp/66.post <<'HOOK'
#!/bin/bash
[ -e /tmp/66.fault ] || exit 0
CSZ=$(blockdev --getsz /dev/vdd)
dmsetup suspend --nolockfs cw66 &&
	echo "0 $CSZ flakey /dev/vdd 0 0 1 1 error_writes" | dmsetup reload cw66 &&
	dmsetup resume cw66 || exit 1
# The VM overwrites 8 MiB the backup still needs: their old contents are
# copied into the COW file's page cache.  The VM's own writes succeed.
dd if=/dev/urandom of=/dev/mapper/d66 bs=1M seek=16 count=8 oflag=direct status=none || exit 1
sync
echo 3 >/proc/sys/vm/drop_caches
echo "$(date +%s)" >/tmp/66.fault.done
HOOK
chmod +x /tmp/66.pre /tmp/66.post
: >/tmp/66.truths

cryptsnap vault init "$VAULT" >/dev/null || t_fail "vault init"
t_check "protect a LUKS2 disk, COW directory on its own ext4 filesystem" \
	cryptsnap protect d66 --vault "$VAULT" --key-file "$KEY" --cow-dir $CM \
	--pre-freeze /tmp/66.pre --post-thaw /tmp/66.post

npoints() { cryptsnap points --vault "$VAULT" --json 2>/dev/null | grep -c '"id"'; }

# backup TAG [args]: rc in BRC, point in BP; a point's truth is recorded.
backup() {
	local tag=$1; shift
	rm -f /tmp/66.truth.cur
	timeout 600 cryptsnap backup d66 --json "$@" >/tmp/66.$tag.out 2>/tmp/66.$tag.err
	BRC=$?
	BP=$(jget point /tmp/66.$tag.out)
	[ $BRC = 0 ] && [ -n "$BP" ] && echo "$BP $(cat /tmp/66.truth.cur)" >>/tmp/66.truths
}

# restore_exact POINT: it restores to its truth.
restore_exact() {
	local want got
	want=$(awk -v p="$1" '$1 == p { print $2 }' /tmp/66.truths)
	cryptsnap restore --vault "$VAULT" --point "$1" --to /tmp/66.r.img --force >/dev/null || return 1
	got=$(sha256sum </tmp/66.r.img | cut -d' ' -f1)
	rm -f /tmp/66.r.img
	[ -n "$want" ] && [ "$got" = "$want" ] || { echo "point $1: restored $got, want $want"; return 1; }
}

backup first
[ $BRC = 0 ] && [ -n "$BP" ] && t_ok "first backup" || t_fail "first backup: $(cat /tmp/66.first.err)"
FIRST=$BP

before=$(npoints)
touch /tmp/66.fault
backup faulted --full
rm -f /tmp/66.fault
t_check "the hook lost COW writes at writeback and evicted them" test -e /tmp/66.fault.done
dmesg | grep -E 'flakey|I/O error|writeback|EXT4-fs|loop' | tail -n 4 | sed 's/^/# kernel: /'
msg=$(grep '^cryptsnap backup: ' /tmp/66.faulted.err | grep -v ': full scan: ')
if [ $BRC != 0 ] && [ "$(printf '%s\n' "$msg" | grep -c .)" = 1 ] &&
	[[ $msg =~ "lost a write at writeback" ]]; then
	t_ok "the backup fails (exit $BRC): ${msg#cryptsnap backup: }"
else
	t_fail "backup with a lost COW write: rc $BRC, point '$BP'"
	sed 's/^/#   /' /tmp/66.faulted.err | tail -n 5
	[ -n "$BP" ] && { restore_exact "$BP" | sed 's/^/#   /'; }
fi
t_check "nothing published" test "$(npoints)" = "$before"
t_check "the snapshot is dropped" bash -c "cryptsnap status d66 | grep -Eq 'snapshot +none'"

# The device heals; the COW filesystem is checked (its journal may have
# aborted) and mounted again.
dmsetup suspend --nolockfs cw66 && echo "0 $CSZ linear /dev/vdd 0" | dmsetup reload cw66 &&
	dmsetup resume cw66 || t_fail "fault not removed"
umount $CM || t_fail "umount $CM"
e2fsck -fy /dev/mapper/cw66 >/tmp/66.fsck 2>&1
[ $? -le 1 ] || t_fail "e2fsck of the COW filesystem: $(tail -n 2 /tmp/66.fsck)"
mount /dev/mapper/cw66 $CM || t_fail "mount $CM again"

backup next
[ $BRC = 0 ] && [ -n "$BP" ] && t_ok "next backup works ($(jget mode /tmp/66.next.out))" ||
	t_fail "next backup: rc $BRC $(tail -n 3 /tmp/66.next.err)"
dd if=/dev/urandom of=$MAP bs=1M seek=40 count=2 oflag=direct status=none
backup after
[ $BRC = 0 ] && [ -n "$BP" ] && t_ok "and the one after ($(jget mode /tmp/66.after.out))" ||
	t_fail "backup after: rc $BRC $(tail -n 3 /tmp/66.after.err)"
t_check "verify clean" cryptsnap verify --vault "$VAULT"
all=0 bad=0
while read -r p _; do
	all=$((all + 1))
	restore_exact "$p" || bad=$((bad + 1))
done </tmp/66.truths
t_check "all $all points restore byte-exact (first $FIRST)" test $bad = 0
t_check "no leftover view or COW loop device" bash -c \
	"! dmsetup ls | grep -q cryptsnap-view && ! losetup -a | grep -q '$CM'"
t_cleanup
rm -rf /tmp/66.*
exit 0
