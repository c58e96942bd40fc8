#!/bin/bash
# Issue 15, I/O errors, latency and full disks under a protected disk's
# backups (the VM part of make check-faults).  dm-flakey and dm-delay are
# slid under, one at a time: (a) the backing disk of the protected LUKS2
# disk, (b) the device of the COW directory (ext4, the COW store is a
# sparse file on a loop device there), (c) the device of the vault's
# filesystem (ext4); and the vault's and the COW directory's filesystems
# are filled up.  For each scenario:
#   - the backup during the fault fails with a clear one-line error and a
#     non-zero exit and publishes nothing, or (latency, or a fault the
#     page cache hides) succeeds and restores byte-exact;
#   - for COW and vault faults the VM's own I/O to the dm-crypt mapping
#     is unaffected: a writer writes and reads back 256 KiB blocks with
#     O_DIRECT from the snapshot moment until after the backup ended,
#     the fault still active; no error, no mismatch, no op over 20 s;
#   - the fault is removed (the vault's filesystem unmounted, checked
#     and mounted again, so what is read next is what reached the disk):
#     `verify` is clean, the point made before the fault restores
#     byte-exact, the next backup works and restores byte-exact.
# At the end every point restores byte-exact.  "Byte-exact" compares the
# restored image's SHA-256 with the ciphertext read from the backing
# device in the pre-freeze hook (nothing writes the disk between that
# read and the snapshot: the writer starts in the post-thaw hook).
# Ends with a counts line like tests/faults/kill.sh's.
# CRYPTSNAP_IO_ONLY=REGEX (--env of vm-run.sh) runs only the scenarios
# whose name matches.
. "$(dirname "$0")/lib.sh"

# Not in make check (about ten minutes of TCG per kernel); make check-faults
# runs it on both kernels.
if [ "${CRYPTSNAP_FAULTS_LANE:-0}" != 1 ]; then
	echo "# 65-io-faults: not in make check; run make check-faults"
	exit 0
fi

SZ=$((64 << 11))		# protected backing disk: 64 MiB of /dev/vdc
VSZ=$((384 << 11))		# vault filesystem: 384 MiB of /dev/vdb
CSZ=$(t_sectors /dev/vdd)	# COW filesystem: all of /dev/vdd (64 MiB)
HOT=$((56 << 11))		# backing sectors from here on: the region written
MAP=/dev/mapper/d65
VM=/mnt/65v CM=/mnt/65c
t_tool_env 65 'io faults passphrase'
VAULT=$VM/vault
W=/tmp/65.w			# writer state
rm -rf /tmp/65.*.img $W.*

S_RUN=0 S_FAULTS=0 S_RESTORES=0 S_VERIFIED=0 S_LOST=0 S_WRONG=0

lin() { echo "0 $2 linear $1 0"; }
# setdev NAME TABLE...: load table lines into NAME (suspend/reload/resume).
setdev() {
	local n=$1; shift
	# --nolockfs: no freeze of the filesystem on it (a failing device
	# cannot be frozen, and a real fault does not wait for one either).
	dmsetup suspend --nolockfs "$n" && printf '%s\n' "$@" | dmsetup reload "$n" && dmsetup resume "$n"
}

# Devices: bk65 (backing of the LUKS disk), vt65 (vault fs), cw65 (COW fs).
t_wipe /dev/vdc
dmsetup create bk65 --table "$(lin /dev/vdc $SZ)" || { t_fail "bk65"; exit 1; }
t_cleanup_add "dmsetup remove bk65"
dmsetup create vt65 --table "$(lin /dev/vdb $VSZ)" || { t_fail "vt65"; exit 1; }
t_cleanup_add "dmsetup remove vt65"
dmsetup create cw65 --table "$(lin /dev/vdd $CSZ)" || { t_fail "cw65"; exit 1; }
t_cleanup_add "dmsetup remove cw65"
mkfs.ext4 -q -F /dev/mapper/vt65 && mkfs.ext4 -q -F /dev/mapper/cw65 ||
	{ t_fail "mkfs"; exit 1; }
mkdir -p $VM $CM
mount /dev/mapper/vt65 $VM && mount /dev/mapper/cw65 $CM || { t_fail "mount"; exit 1; }
t_cleanup_add "umount $VM"
t_cleanup_add "umount $CM"

cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" /dev/mapper/bk65 >/dev/null 2>&1
cryptsetup open --key-file "$KEY" /dev/mapper/bk65 d65 || { t_fail "open"; exit 1; }
t_cleanup_add "cryptsetup close d65"
t_cleanup_add "cryptsnap unprotect d65"
MAPSZ=$(blockdev --getsize64 $MAP)
WUNITS=$((MAPSZ / 262144))	# 256 KiB units of the mapping
dd if=/dev/urandom of=$MAP bs=1M count=$((MAPSZ >> 20)) oflag=direct status=none

# Hooks: the truth is the backing device's bytes at the snapshot moment
# ("-" when they cannot be read: the backup is expected to fail then);
# the writer starts after the thaw.
cat >/tmp/65.pre <<'HOOK'
#!/bin/bash
s=$(dd if=/dev/mapper/bk65 bs=1M iflag=direct status=none | sha256sum) &&
	[ "${PIPESTATUS[0]}" = 0 ] || s=-
echo "${s%% *}" >/tmp/65.truth.cur
HOOK
cat >/tmp/65.post <<'HOOK'
#!/bin/bash
touch /tmp/65.w.go
HOOK
chmod +x /tmp/65.pre /tmp/65.post
: >/tmp/65.truths

cryptsnap vault init "$VAULT" >/dev/null || t_fail "vault init"
t_check "protect a LUKS2 disk on dm-linear, COW dir on its own filesystem" \
	cryptsnap protect d65 --vault "$VAULT" --key-file "$KEY" --cow-dir $CM \
	--pre-freeze /tmp/65.pre --post-thaw /tmp/65.post

npoints() { cryptsnap points --vault "$VAULT" --json 2>/dev/null | grep -c '"id"'; }

# t_run DESC CMD...: t_check in this shell (CMD counts in S_*).
t_run() {
	local desc=$1; shift
	if "$@" >/tmp/65.run 2>&1; then
		t_ok "$desc"
	else
		t_fail "$desc"
		tail -n 20 /tmp/65.run | sed 's/^/#   /'
	fi
}

# backup TAG [args]: rc in BRC, point in BP, stderr in /tmp/65.TAG.err;
# a published point's truth is recorded.
backup() {
	local tag=$1; shift
	rm -f /tmp/65.truth.cur
	timeout 600 cryptsnap backup d65 --json "$@" >/tmp/65.$tag.out 2>/tmp/65.$tag.err
	BRC=$?
	BP=$(jget point /tmp/65.$tag.out)
	if [ $BRC = 0 ] && [ -n "$BP" ]; then
		echo "$BP $(cat /tmp/65.truth.cur 2>/dev/null || echo -)" >>/tmp/65.truths
	fi
}

# restore_exact POINT: restores it and compares with its truth.
restore_exact() {
	local p=$1 want got
	want=$(awk -v p="$p" '$1 == p { print $2 }' /tmp/65.truths)
	S_RESTORES=$((S_RESTORES + 1))
	if ! cryptsnap restore --vault "$VAULT" --point "$p" --to /tmp/65.r.img --force \
		>/dev/null 2>/tmp/65.r.err; then
		S_LOST=$((S_LOST + 1))
		echo "restore of $p failed: $(tail -n 2 /tmp/65.r.err)"
		rm -f /tmp/65.r.img
		return 1
	fi
	got=$(sha256sum </tmp/65.r.img) got=${got%% *}
	rm -f /tmp/65.r.img
	if [ -z "$want" ] || [ "$want" = - ] || [ "$got" != "$want" ]; then
		S_WRONG=$((S_WRONG + 1))
		echo "point $p restored $got, expected '$want'"
		return 1
	fi
}

# verify_clean [POINT...]: verify exits 0 for these points (or the vault).
# Per scenario only the first point and the one before the fault: a
# whole-vault verify grows with every point, and its cost under TCG with
# it; the whole vault is verified at the end.
verify_clean() {
	local p
	if [ $# = 0 ]; then
		p=$(npoints)
		cryptsnap verify --vault "$VAULT" >/tmp/65.verify 2>&1 || { tail -n 5 /tmp/65.verify; return 1; }
		S_VERIFIED=$((S_VERIFIED + p))
		return 0
	fi
	for p in "$@"; do
		cryptsnap verify --vault "$VAULT" --point "$p" >/tmp/65.verify 2>&1 ||
			{ echo "point $p:"; tail -n 5 /tmp/65.verify; return 1; }
		S_VERIFIED=$((S_VERIFIED + 1))
	done
}

# The VM's writer: 256 KiB blocks at the top of the mapping (the region
# each scenario changes, so the backup still needs what it overwrites),
# written and read back with O_DIRECT.  Starts at the thaw; stops when
# $W.stop appears.  $W.res: ops, errors, slowest op (ms).
writer() {
	local n=0 err=0 max=0 off t0 dt
	while [ ! -e $W.go ] && [ ! -e $W.stop ]; do sleep 0.1; done
	while [ ! -e $W.stop ]; do
		off=$((WUNITS - 1 - n % 32))	# the last 8 MiB, from the end
		head -c 262144 /dev/urandom >$W.pat
		t0=$(date +%s%N)
		if ! timeout 30 dd if=$W.pat of=$MAP bs=256k seek=$off count=1 oflag=direct \
			conv=notrunc status=none 2>>$W.log ||
		   ! timeout 30 dd if=$MAP of=$W.rb bs=256k skip=$off count=1 iflag=direct \
			status=none 2>>$W.log ||
		   ! cmp -s $W.pat $W.rb; then
			err=$((err + 1))
		fi
		dt=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ $dt -gt $max ] && max=$dt
		n=$((n + 1))
		echo "$n $err $max" >$W.res
	done
}
writer_start() { rm -f $W.*; writer & WPID=$!; }
# writer_stop MIN: let it do at least MIN ops in all (up to 60 s), stop it.
writer_stop() {
	local i n
	for i in $(seq 600); do
		read -r n _ _ <$W.res 2>/dev/null || n=0
		[ "$n" -ge "$1" ] && break
		[ -e $W.go ] || touch $W.go		# the backup failed before the thaw
		sleep 0.1
	done
	touch $W.stop
	wait $WPID
	read -r WOPS WERR WMAX <$W.res 2>/dev/null || { WOPS=0 WERR=0 WMAX=0; }
}

# The changes each scenario's backup has to store.
change() { dd if=/dev/urandom of=$MAP bs=1M count=8 seek=$(((MAPSZ >> 20) - 8)) oflag=direct status=none; }

# fill DIR KEEP_KIB: leave about KEEP_KIB free in DIR's filesystem.
fill() {
	local a b
	# %f, not %a: root (the tool, the loop worker) may use the blocks
	# ext4 reserves for root.
	read -r a b <<<"$(stat -f -c '%f %S' "$1")"
	# 2 MiB for the metadata of the filler itself: with all of %f,
	# fallocate fails with ENOSPC (6.12) and leaves part of the file.
	fallocate -l $(( a * b - ($2 + 2048) * 1024 )) "$1/filler" || { rm -f "$1/filler"; return 1; }
}

# The fault tables.
flakey() { echo "0 $2 flakey $1 0 $3"; }	# DEV SECTORS "UP DOWN [features]"
delay() { echo "0 $2 delay $1 0 $3"; }		# DEV SECTORS "MS"

remount() {	# DIR DEV LABEL
	local frc
	umount "$1" || t_fail "$3: cannot unmount $1"
	e2fsck -fy /dev/mapper/$2 >/tmp/65.fsck 2>&1
	frc=$?
	[ $frc -le 1 ] && t_ok "$3: $1 filesystem checked after the fault (e2fsck exit $frc)" ||
		{ t_fail "$3: e2fsck exit $frc"; tail -n 5 /tmp/65.fsck | sed 's/^/#   /'; }
	mount /dev/mapper/$2 "$1" || t_fail "$3: $1 does not mount again"
}

backup_ok_check() {	# LABEL: the last backup's point must restore byte-exact
	if [ $BRC = 0 ] && [ -n "$BP" ]; then
		t_run "$1: restores byte-exact" restore_exact "$BP"
		return 0
	fi
	return 1
}

# scenario NAME TARGET EXPECT [table lines]: TARGET bk|cw|vt|vfull|cfull,
# EXPECT fail|ok|either (either: a fault the page cache may hide).
scenario() {
	local name=$1 tgt=$2 exp=$3 dev lbl before prev msg during
	shift 3
	[[ $name =~ ${CRYPTSNAP_IO_ONLY:-.} ]] || return 0
	S_RUN=$((S_RUN + 1))
	lbl="$name"
	prev=$(tail -n 1 /tmp/65.truths | cut -d' ' -f1)
	before=$(npoints)
	change
	case $tgt in
	bk) dev=bk65 ;;
	cw|cfull) dev=cw65 ;;
	vt|vfull) dev=vt65 ;;
	esac
	case $tgt in
	vfull) fill $VM 1024 ;;
	cfull) fill $CM 256 ;;
	*) setdev $dev "$@" ;;
	esac
	if [ $? = 0 ]; then S_FAULTS=$((S_FAULTS + 1)); else t_fail "$lbl: fault not injected"; return; fi

	[ $tgt != bk ] && writer_start
	backup "$name"
	[ $tgt != bk ] && writer_stop 16
	msg=$(grep '^cryptsnap backup: ' /tmp/65.$name.err | grep -v ': full scan: ')
	during=
	case "$exp:$BRC" in
	ok:0|either:0)
		# Restored once the fault is gone: what reached the disk.
		during=$BP
		t_ok "$lbl: backup during the fault succeeded (exit 0)" ;;
	ok:*)
		t_fail "$lbl: backup failed (rc $BRC): $(tail -n 3 /tmp/65.$name.err)" ;;
	fail:0)
		t_fail "$lbl: backup succeeded although it should have failed" ;;
	*)
		[ $BRC -ne 0 ] && [ -n "$msg" ] && [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] &&
			[[ $msg =~ ${RE:-.} ]] &&
			t_ok "$lbl: backup fails, exit $BRC: ${msg#cryptsnap backup: }" ||
			{ t_fail "$lbl: no clear error (rc $BRC)"; sed 's/^/#   /' /tmp/65.$name.err | tail -n 5; }
		;;
	esac
	if [ $tgt != bk ]; then
		[ "$WERR" = 0 ] && [ "$WOPS" -ge 1 ] && [ "$WMAX" -le 20000 ] &&
			t_ok "$lbl: VM wrote and read back $WOPS blocks during the fault, no error, slowest $WMAX ms" ||
			{ t_fail "$lbl: VM I/O: $WOPS ops, $WERR errors, slowest $WMAX ms"; tail -n 3 $W.log | sed 's/^/#   /'; }
	fi

	# Remove the fault.
	case $tgt in
	vfull) rm -f $VM/filler ;;
	cfull) rm -f $CM/filler ;;
	bk) setdev bk65 "$(lin /dev/vdc $SZ)" ;;
	cw) setdev cw65 "$(lin /dev/vdd $CSZ)" ;;
	vt) setdev vt65 "$(lin /dev/vdb $VSZ)" ;;
	esac || t_fail "$lbl: fault not removed"
	t_check "$lbl: snapshot dropped" bash -c "cryptsnap status d65 | grep -Eq 'snapshot +none'"
	# What the disks hold, not the page cache: the faulted filesystem is
	# unmounted, checked and mounted again (a write error may also have
	# aborted its journal and left it read-only).
	case $tgt in
	vt|vfull) remount $VM vt65 "$lbl" ;;
	cw|cfull) remount $CM cw65 "$lbl" ;;
	esac
	# Counted once the vault reads again (points fails during a vault fault).
	[ $BRC != 0 ] && t_check "$lbl: nothing published" test "$(npoints)" = "$before"
	t_run "$lbl: verify clean after the fault (first point, point before)" \
		verify_clean $(head -n 1 /tmp/65.truths | cut -d' ' -f1) $prev
	[ -n "$prev" ] && t_run "$lbl: the point made before the fault restores byte-exact" restore_exact "$prev"
	[ -n "$during" ] && t_run "$lbl: the point made during the fault restores byte-exact" restore_exact "$during"
	backup "$name-next"
	[ $BRC = 0 ] && [ -n "$BP" ] && t_ok "$lbl: next backup after the fault works ($(jget mode /tmp/65.$name-next.out))" ||
		{ t_fail "$lbl: next backup: rc $BRC $(tail -n 3 /tmp/65.$name-next.err)"; return; }
	backup_ok_check "$lbl: next backup" || true
}

backup first
[ $BRC = 0 ] && [ -n "$BP" ] && t_ok "first backup" || t_fail "first backup: $(cat /tmp/65.first.err)"
backup_ok_check "first backup" || true

# (a) the protected disk's backing device.  Errors in the region that
# changed: the snapshot cannot be read there; errors everywhere (the LUKS
# header too); write errors only (a backup only reads); latency.
RE="cannot read the snapshot.*Input/output error" scenario backing-read-errors bk fail \
	"0 $HOT linear /dev/vdc 0" "$HOT $((SZ - HOT)) flakey /dev/vdc $HOT 0 1"
RE="cannot read the LUKS header.*Input/output error" scenario backing-all-errors bk fail "$(flakey /dev/vdc $SZ '0 1')"
scenario backing-error-writes bk ok "$(flakey /dev/vdc $SZ '0 1 1 error_writes')"
scenario backing-delay bk ok "$(delay /dev/vdc $SZ 100)"

# (b) the COW directory's device.  The loop device writes the COW file
# through the page cache, so write errors below it may only show at
# writeback: the backup either fails cleanly or is right.
scenario cow-error-writes cw either "$(flakey /dev/vdd $CSZ '0 1 1 error_writes')"
scenario cow-all-errors cw either "$(flakey /dev/vdd $CSZ '0 1')"
scenario cow-error-periods cw either "$(flakey /dev/vdd $CSZ '1 1')"
scenario cow-drop-writes cw either "$(flakey /dev/vdd $CSZ '0 1 1 drop_writes')"
scenario cow-delay cw ok "$(delay /dev/vdd $CSZ 200)"
RE="became invalid" scenario cow-enospc cfull fail

# (c) the vault's device.
scenario vault-error-writes vt fail "$(flakey /dev/vdb $VSZ '0 1 1 error_writes')"
scenario vault-all-errors vt fail "$(flakey /dev/vdb $VSZ '0 1')"
scenario vault-error-periods vt either "$(flakey /dev/vdb $VSZ '1 1')"
scenario vault-delay vt ok "$(delay /dev/vdb $VSZ 100)"
RE="No space left on device" scenario vault-enospc vfull fail

# Every point, at the end.
t_run "verify clean at the end" verify_clean
all=0 bad=0
while read -r p _; do
	all=$((all + 1))
	restore_exact "$p" >/dev/null || bad=$((bad + 1))
done </tmp/65.truths
t_check "all $all points restore byte-exact" test $bad = 0
t_check "no leftover view or COW loop device" bash -c \
	"! dmsetup ls | grep -q cryptsnap-view && ! losetup -a | grep -q '$CM'"

echo "# io faults: scenarios run $S_RUN, faults injected $S_FAULTS, restores compared byte-exact $S_RESTORES, points verified $S_VERIFIED, data lost $S_LOST, wrong restores $S_WRONG"
[ $S_LOST = 0 ] && [ $S_WRONG = 0 ] && t_ok "data lost 0, wrong restores 0" ||
	t_fail "data lost $S_LOST, wrong restores $S_WRONG"
t_cleanup
rm -rf /tmp/65.*
exit 0
