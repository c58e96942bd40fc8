#!/bin/bash
# Disk stacks other than "LUKS straight on a whole virtio disk": each one
# is protected, backed up (full), changed, backed up again (incremental)
# and both points are restored byte-exact against the backing device's
# ciphertext read in the pre-freeze hook, then unprotected with the
# mapping still working.  Stacks:
#   sector4k  LUKS2 with 4096-byte encryption sectors
#   part      LUKS2 on an MBR partition starting at 1 MiB + 3 KiB (not
#             chunk-aligned; the table is written here, byte by byte)
#   loop      LUKS2 on a loop device over a file on ext4
#   concat    LUKS2 on a two-segment dm-linear over two disks, the seam
#             not chunk-aligned (what an LVM LV spanning two PVs is)
#   raid1     LUKS2 on a dm-raid raid1 of two legs (md under device-mapper,
#             as LVM raid1 LVs are)
#   4kn       LUKS2 on a disk with 4096-byte logical blocks (/dev/vde; NVMe
#             drives and cloud disks are often so)
# and refusals, with one clear line and the mapping left working:
#   detached  LUKS2 with a detached header (the backing device does not
#             carry the header a point must hold)
#   plain     plain dm-crypt without LUKS
#   integrity LUKS2 with --integrity (dm-integrity under dm-crypt: the
#             device under dm-crypt does not carry the header either)
. "$(dirname "$0")/lib.sh"

rm -rf /tmp/67.*
t_tool_env 67 'disk stacks passphrase'
MB=$((1 << 11))			# sectors per MiB
SZ=$((32 * MB))			# each stack's backing: 32 MiB (16 MiB of data)
cat >/tmp/67.pre <<'HOOK'
#!/bin/bash
dd if="$(cat /tmp/67.backing)" bs=64k iflag=direct status=none | sha256sum | cut -d' ' -f1 >/tmp/67.truth
HOOK
chmod +x /tmp/67.pre
cryptsnap vault init "$VAULT" >/dev/null || t_fail "vault init"
t_wipe /dev/vdc
t_wipe /dev/vdd

# restore_exact POINT TRUTH
restore_exact() {
	local got
	cryptsnap restore --vault "$VAULT" --point "$1" --to /tmp/67.r.img --force >/dev/null || return 1
	got=$(sha256sum </tmp/67.r.img | cut -d' ' -f1)
	rm -f /tmp/67.r.img
	[ "$got" = "$2" ] || { echo "point $1 restored $got, want $2"; return 1; }
}

# stack NAME BACKING [luksFormat options]: the whole round on one stack.
stack() {
	local n=$1 dev=$2 p1 p2 t1 t2 m=cs67$1
	shift 2
	echo "$dev" >/tmp/67.backing
	if ! cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" "$@" --key-file "$KEY" "$dev" \
		>/tmp/67.fmt 2>&1 || ! cryptsetup open --key-file "$KEY" "$dev" $m; then
		t_fail "$n: luksFormat/open: $(tail -n 2 /tmp/67.fmt)"
		return
	fi
	dd if=/dev/urandom of=/dev/mapper/$m bs=1M count=$(($(blockdev --getsize64 /dev/mapper/$m) >> 20)) \
		oflag=direct status=none
	if ! cryptsnap protect $m --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp \
		--pre-freeze /tmp/67.pre >/tmp/67.prot 2>&1; then
		t_fail "$n: protect: $(tail -n 2 /tmp/67.prot)"
		cryptsetup close $m
		return
	fi
	t_ok "$n: protected"
	cryptsnap backup $m --json >/tmp/67.b1 2>/tmp/67.b1.err
	p1=$(jget point /tmp/67.b1) t1=$(cat /tmp/67.truth 2>/dev/null)
	[ -n "$p1" ] && t_ok "$n: full backup" || t_fail "$n: full backup: $(tail -n 2 /tmp/67.b1.err)"
	# 1 MiB at 5 MiB + 4 KiB: crosses chunk boundaries.
	dd if=/dev/urandom of=/dev/mapper/$m bs=4k seek=$((5 * 256 + 1)) count=256 oflag=direct status=none
	cryptsnap backup $m --json >/tmp/67.b2 2>/tmp/67.b2.err
	p2=$(jget point /tmp/67.b2) t2=$(cat /tmp/67.truth 2>/dev/null)
	[ -n "$p2" ] && [ "$(jget mode /tmp/67.b2)" = incremental ] &&
		t_ok "$n: incremental backup ($(jget chunks_read /tmp/67.b2) chunks read)" ||
		t_fail "$n: incremental backup: $(jget mode /tmp/67.b2) $(tail -n 2 /tmp/67.b2.err)"
	[ -n "$p1" ] && t_check "$n: full point restores byte-exact" restore_exact "$p1" "$t1"
	[ -n "$p2" ] && t_check "$n: incremental point restores byte-exact" restore_exact "$p2" "$t2"
	[ -n "$p2" ] && t_check "$n: the restored image opens with the key" bash -c \
		"cryptsnap restore --vault '$VAULT' --point '$p2' --to /tmp/67.k.img --check-key \
		--escrow-dir /tmp/67.esc >/dev/null; r=\$?; rm -rf /tmp/67.k.img /tmp/67.esc; exit \$r"
	t_check "$n: unprotect" cryptsnap unprotect $m
	t_check "$n: the mapping still reads after unprotect" \
		dd if=/dev/mapper/$m of=/dev/null bs=1M count=4 iflag=direct status=none
	cryptsetup close $m || t_fail "$n: close"
}

# refuse NAME REGEX: protect of cs67NAME fails with one line matching
# REGEX, the mapping is not touched.
refuse() {
	local n=$1 re=$2 m=cs67$1 rc before after
	before=$(dmsetup table $m)
	cryptsnap protect $m --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp >/tmp/67.ref 2>&1
	rc=$?
	after=$(dmsetup table $m)
	if [ $rc != 0 ] && [ "$(grep -c . /tmp/67.ref)" = 1 ] && grep -Eq "$re" /tmp/67.ref; then
		t_ok "$n: protect refused (exit $rc): $(cat /tmp/67.ref)"
	else
		t_fail "$n: protect: rc $rc: $(head -n 3 /tmp/67.ref)"
	fi
	t_check "$n: the mapping is untouched" test "$before" = "$after"
	t_check "$n: and reads" dd if=/dev/mapper/$m of=/dev/null bs=1M count=4 iflag=direct status=none
}

# --- sector4k
dmsetup create bk67 --table "0 $SZ linear /dev/vdc 0" && t_cleanup_add "dmsetup remove bk67"
stack sector4k /dev/mapper/bk67 --sector-size 4096
dmsetup remove bk67

# --- part: an MBR with one Linux partition at sector 2054 (1 MiB + 3 KiB).
mbr_entry() {	# START SECTORS: a 16-byte partition entry, type 0x83
	local s=$1 n=$2
	printf '\x00\xfe\xff\xff\x83\xfe\xff\xff'
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((s & 255)) $((s >> 8 & 255)) $((s >> 16 & 255)) $((s >> 24)))"
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24)))"
}
dd if=/dev/zero of=/dev/vdc bs=512 count=1 status=none
mbr_entry 2054 $SZ | dd of=/dev/vdc bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of=/dev/vdc bs=1 seek=510 conv=notrunc status=none
blockdev --rereadpt /dev/vdc
for i in $(seq 50); do [ -b /dev/vdc1 ] && break; sleep 0.1; done
if [ -b /dev/vdc1 ] && [ "$(t_sectors /dev/vdc1)" = $SZ ]; then
	stack part /dev/vdc1
else
	t_fail "part: /dev/vdc1 did not appear"
fi
t_wipe /dev/vdc
blockdev --rereadpt /dev/vdc

# --- loop: a file on ext4 (on vdd), on a loop device.
mkfs.ext4 -q -F /dev/vdd && mkdir -p /mnt/67 && mount /dev/vdd /mnt/67 &&
	t_cleanup_add "umount /mnt/67" || t_fail "loop: ext4 on vdd"
truncate -s 32M /mnt/67/disk.img
LOOP=$(losetup --show -f /mnt/67/disk.img) && t_cleanup_add "losetup -d $LOOP"
[ -n "$LOOP" ] && stack loop "$LOOP" || t_fail "loop: losetup"
[ -n "$LOOP" ] && losetup -d "$LOOP"
umount /mnt/67
t_wipe /dev/vdd

# --- concat: 12 MiB + 3 KiB of vdc, then the rest from vdd.
A=$((12 * MB + 6))
printf '0 %s linear /dev/vdc 0\n%s %s linear /dev/vdd 0\n' $A $A $((SZ - A)) | dmsetup create bk67 &&
	t_cleanup_add "dmsetup remove bk67"
stack concat /dev/mapper/bk67
dmsetup remove bk67

# --- raid1: dm-raid, two legs, no metadata devices, synced first.
modprobe dm-raid 2>/dev/null
if dmsetup create bk67 --table "0 $SZ raid raid1 3 0 region_size 1024 2 - /dev/vdc - /dev/vdd" \
	>/tmp/67.raid 2>&1; then
	t_cleanup_add "dmsetup remove bk67"
	for i in $(seq 600); do
		dmsetup status bk67 | grep -q ' AA ' && break
		sleep 0.1
	done
	stack raid1 /dev/mapper/bk67
	dmsetup remove bk67
else
	t_fail "raid1: dm-raid: $(tail -n 1 /tmp/67.raid)"
fi
t_wipe /dev/vdc
t_wipe /dev/vdd

# --- 4kn: the whole of /dev/vde.
for d in /dev/vd?; do t_diag "$d: $(blockdev --getss --getsize64 $d | tr '\n' ' ')"; done
if [ "$(blockdev --getss /dev/vde 2>/dev/null)" = 4096 ]; then
	t_wipe /dev/vde
	stack 4kn /dev/vde
	t_wipe /dev/vde
else
	t_fail "4kn: /dev/vde has no 4096-byte logical blocks ($(blockdev --getss /dev/vde 2>&1))"
fi

# --- refusals
dmsetup create bk67 --table "0 $SZ linear /dev/vdc 0" && t_cleanup_add "dmsetup remove bk67"
truncate -s 16M /tmp/67.hdr
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --header /tmp/67.hdr --key-file "$KEY" \
	/dev/mapper/bk67 >/dev/null 2>&1 &&
	cryptsetup open --header /tmp/67.hdr --key-file "$KEY" /dev/mapper/bk67 cs67detached &&
	{ refuse detached 'LUKS|header'; cryptsetup close cs67detached; } ||
	t_fail "detached: luksFormat/open"
t_wipe /dev/mapper/bk67
head -c 64 /dev/urandom >/tmp/67.plainkey
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file /tmp/67.plainkey \
	/dev/mapper/bk67 cs67plain &&
	{ refuse plain 'LUKS'; cryptsetup close cs67plain; } || t_fail "plain: open"
t_wipe /dev/mapper/bk67
modprobe dm-integrity 2>/dev/null
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --integrity hmac-sha256 --key-file "$KEY" \
	/dev/mapper/bk67 >/tmp/67.fmt 2>&1 &&
	cryptsetup open --key-file "$KEY" /dev/mapper/bk67 cs67integrity &&
	{ refuse integrity 'LUKS'; cryptsetup close cs67integrity; } ||
	t_fail "integrity: luksFormat/open: $(tail -n 1 /tmp/67.fmt)"
dmsetup remove bk67

t_check "no leftover cryptsnap device" bash -c "! dmsetup ls | grep -q cryptsnap"
t_cleanup
rm -rf /tmp/67.*
exit 0
