#!/bin/bash
# Issue 15, concurrency: two backups of one disk at once, backup + prune,
# backup + key rotation, restore + GC, and two hosts' tools (separate
# state and key directories, another host name) on one vault directory.
# Never a torn point, never a lost chunk: after every race the vault
# verifies clean and every point restores byte-exact to the disk as it was
# at that point's snapshot; the loser of a lock race exits 6 with one line
# that names what holds the lock.
#
# To make a race certain rather than lucky, one side is paused at a named
# step with CRYPTSNAP_CRASH_AT=name CRYPTSNAP_CRASH_SIGNAL=STOP (it stops
# itself there, holding its locks), the rival runs, then it gets SIGCONT.
# The disks carry raw dm-crypt (no filesystem) and nothing writes to them
# while a backup runs, so a point's truth is the disk's checksum.
#
# In make check-faults only (CRYPTSNAP_FAULTS_LANE=1): docs/reliability.md.
. "$(dirname "$0")/lib.sh"

if [ "${CRYPTSNAP_FAULTS_LANE:-0}" != 1 ]; then
	echo "# 60-concurrency: in make check-faults only"
	exit 0
fi

DISK=/dev/vdd			# 64M: host A's disk
rm -rf /tmp/60.*
t_tool_env 60 'concurrency passphrase'
STATE_A=$CRYPTSNAP_STATE_DIR KEYS_A=$CRYPTSNAP_KEY_DIR
STATE_B=/tmp/60b.state KEYS_B=/tmp/60b.keys
rm -rf "$STATE_B" "$KEYS_B"
scen=0 compared=0 verified=0 lost=0 wrong=0
declare -A TRUTH		# point id -> sha256 of its disk at the snapshot
declare -A DEV			# point id -> the device it was taken of
declare -A GONE			# point id -> 1: pruned on purpose

# O_DIRECT: the disk is written through dm-crypt, below /dev/vdd's own page
# cache, so a buffered read would give the bytes of an earlier checksum.
sum() {
	if [ -b "$1" ]; then dd if="$1" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
	else sha256sum "$1" | cut -d' ' -f1; fi
}
scribble() {	# MAPPING MiB SEEKMiB: random writes through dm-crypt
	dd if=/dev/urandom of="/dev/mapper/$1" bs=1M count="$2" seek="$3" oflag=direct status=none
}

# Host B runs the same tool under its own host name, state and KEK copy;
# every step execs, so a background run's $! is the tool's own pid.
cat >/tmp/60.hostb <<HOSTB
#!/bin/bash
export CRYPTSNAP_STATE_DIR=$STATE_B CRYPTSNAP_KEY_DIR=$KEYS_B
exec unshare -u /bin/bash -c 'hostname host-b60 && exec "\$@"' hostb "\$@"
HOSTB
chmod +x /tmp/60.hostb
hostb() { /tmp/60.hostb "$@"; }

# mark_gone: points of TRUTH the vault no longer lists were pruned.
mark_gone() {
	local p
	cryptsnap points --vault "$VAULT" --json >/tmp/60.points 2>/dev/null
	for p in "${!TRUTH[@]}"; do
		grep -q "\"$p\"" /tmp/60.points || GONE[$p]=1
	done
}

# record OUT DEV: a backup's point (from its --json) now holds DEV as it is.
record() {
	local p
	p=$(jget point "$1")
	[ -n "$p" ] || return 1
	TRUTH[$p]=$(sum "$2")
	DEV[$p]=$2
}

# paused NAME AT CMD...: runs CMD until its passage of crash point AT,
# where it stops itself; PAUSED is its pid.
paused() {
	local name=$1 at=$2 st
	shift 2
	CRYPTSNAP_CRASH_AT=$at CRYPTSNAP_CRASH_SIGNAL=STOP "$@" >/tmp/60.$name.out 2>/tmp/60.$name.err &
	PAUSED=$!
	for _ in $(seq 600); do
		st=$(awk '{ print $3 }' /proc/$PAUSED/stat 2>/dev/null)
		[ "$st" = T ] && return 0
		[ -z "$st" ] && break
		sleep 0.1
	done
	t_fail "$name did not stop at $at: $(tail -n 2 /tmp/60.$name.err)"
	return 1
}
resume() { kill -CONT "$PAUSED"; wait "$PAUSED"; }

# refused DESC RC ERRFILE PATTERN: exit 6 and exactly one line naming PATTERN.
refused() {
	local n
	n=$(wc -l <"$3")
	[ "$2" = 6 ] && [ "$n" = 1 ] && grep -q "$4" "$3" &&
		t_ok "$1: exit 6, one line: $(cut -c1-150 "$3")" ||
		t_fail "$1: rc=$2, $n lines: $(head -n 3 "$3")"
}

# check_all TAG: verify clean, then every point restores to its truth.
check_all() {
	local p out
	scen=$((scen + 1))
	if cryptsnap verify --vault "$VAULT" >/tmp/60.verify 2>&1; then
		verified=$((verified + $(grep -c '^ok ' /tmp/60.verify)))
		t_ok "$1: vault verifies clean"
	else
		t_fail "$1: verify: $(grep -v '^ok ' /tmp/60.verify | head -n 3)"
	fi
	cryptsnap points --vault "$VAULT" --json >/tmp/60.points 2>/dev/null
	for p in "${!TRUTH[@]}"; do
		if ! grep -q "\"$p\"" /tmp/60.points; then
			[ "${GONE[$p]:-}" ] && continue	# pruned on purpose
			t_fail "$1: point $p is missing"; lost=$((lost + 1)); continue
		fi
		[ "${GONE[$p]:-}" ] && { t_fail "$1: pruned point $p is still listed"; continue; }
		out=/tmp/60.restore.img
		if ! cryptsnap restore --point "$p" --to $out --force >/dev/null 2>/tmp/60.r.err; then
			t_fail "$1: point $p does not restore: $(tail -n 1 /tmp/60.r.err)"
			lost=$((lost + 1)); continue
		fi
		compared=$((compared + 1))
		[ "$(sum $out)" = "${TRUTH[$p]}" ] || { t_fail "$1: point $p restores wrong bytes"; wrong=$((wrong + 1)); }
		rm -f $out
	done
	t_diag "$1: ${#TRUTH[@]} points known, restores compared so far $compared"
}
# --- set up host A: LUKS2 on vdd, protected, two points ---
t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" a60 || t_fail "open"
t_cleanup_add "cryptsetup close a60"
t_cleanup_add "cryptsnap unprotect a60"
scribble a60 40 0
cryptsnap vault init "$VAULT" >/dev/null
t_check "protect host A's disk" cryptsnap protect a60 --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
cryptsnap backup a60 --json >/tmp/60.b0 2>/dev/null && record /tmp/60.b0 $DISK ||
	t_fail "first backup"
scribble a60 4 8
cryptsnap backup a60 --json >/tmp/60.b1 2>/dev/null && record /tmp/60.b1 $DISK ||
	t_fail "second backup"

# --- 1. two backups of one disk ---
scribble a60 4 20
paused bk1 lock.taken cryptsnap backup a60 --json
cryptsnap backup a60 --json >/tmp/60.bk2.out 2>/tmp/60.bk2.err
refused "second backup of a disk with a backup running" $? /tmp/60.bk2.err 'disk a60 is busy: pid'
resume; rc=$?
[ $rc = 0 ] && record /tmp/60.bk1.out $DISK && t_ok "the first backup, resumed, completes" ||
	t_fail "paused backup: rc=$rc $(tail -n 2 /tmp/60.bk1.err)"
# An unpaused race: both start at once; one or both succeed (if the first
# ends before the second starts), a loser exits 6 with one line.
scribble a60 2 30
cryptsnap backup a60 --json >/tmp/60.r1.out 2>/tmp/60.r1.err &
p1=$!
cryptsnap backup a60 --json >/tmp/60.r2.out 2>/tmp/60.r2.err &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
wins=0
for i in 1 2; do
	eval "rc=\$rc$i"
	if [ "$rc" = 0 ]; then
		wins=$((wins + 1)); record /tmp/60.r$i.out $DISK
	else
		refused "backup race, loser $i" "$rc" /tmp/60.r$i.err 'disk a60 is busy'
	fi
done
[ $wins -ge 1 ] && t_ok "backup race: $wins of 2 succeeded" || t_fail "backup race: no backup succeeded"
check_all "two backups"

# --- 2. backup + prune ---
scribble a60 4 12
paused bkp lock.taken cryptsnap backup a60 --json
oldest=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' /tmp/60.points | head -n 1)
cryptsnap prune --vault "$VAULT" --keep-last 3 >/tmp/60.pr.out 2>/tmp/60.pr.err
rc=$?
[ $rc = 0 ] && grep -q 'garbage collection deferred: another job holds the vault' /tmp/60.pr.out &&
	t_ok "prune during a backup removes points and defers GC" ||
	t_fail "prune during backup: rc=$rc $(cat /tmp/60.pr.out /tmp/60.pr.err | tail -n 3)"
mark_gone
t_diag "prune removed ${#GONE[@]} points (oldest was $oldest)"
resume; rc=$?
[ $rc = 0 ] && record /tmp/60.bkp.out $DISK && t_ok "the backup, resumed after the prune, completes" ||
	t_fail "backup after prune: rc=$rc $(tail -n 2 /tmp/60.bkp.err)"
# GC first, paused under its exclusive lock (second lock.taken of prune),
# with the vault aged so it really deletes: a backup must be refused and
# its changes must reach the next point.
find "$VAULT" -type f -exec touch -d "@$(($(date +%s) - 259200))" {} +
cryptsnap prune --vault "$VAULT" --keep-last 2 --no-gc >/tmp/60.pr2.pre 2>&1
mark_gone
find "$VAULT" -type f -exec touch -d "@$(($(date +%s) - 259200))" {} +
scribble a60 3 40
paused gc lock.taken:2 cryptsnap prune --vault "$VAULT" --keep-last 2
cryptsnap backup a60 --json >/tmp/60.bg.out 2>/tmp/60.bg.err
refused "backup during GC" $? /tmp/60.bg.err 'locked by host .*(exclusive'
resume; rc=$?
[ $rc = 0 ] && grep -q '^gc: ' /tmp/60.gc.out && t_ok "GC, resumed: $(grep '^gc: ' /tmp/60.gc.out)" ||
	t_fail "GC: rc=$rc $(tail -n 2 /tmp/60.gc.out /tmp/60.gc.err)"
cryptsnap backup a60 --json >/tmp/60.ag.out 2>/tmp/60.ag.err && record /tmp/60.ag.out $DISK &&
	t_ok "the next backup after the refused one: $(jget mode /tmp/60.ag.out), $(jget chunks_read /tmp/60.ag.out) chunks" ||
	t_fail "backup after GC: $(tail -n 2 /tmp/60.ag.err)"
check_all "backup + prune"

# --- 3. backup + key rotation ---
scribble a60 2 44
paused bkr lock.taken cryptsnap backup a60 --json
cryptsnap key rotate --vault "$VAULT" >/tmp/60.kr.out 2>/tmp/60.kr.err
refused "key rotate during a backup" $? /tmp/60.kr.err 'locked by host .*(shared'
resume; rc=$?
[ $rc = 0 ] && record /tmp/60.bkr.out $DISK && t_ok "the backup, resumed, completes" ||
	t_fail "backup after refused rotate: rc=$rc $(tail -n 2 /tmp/60.bkr.err)"
scribble a60 2 46
paused rot rotate.journal-written cryptsnap key rotate --vault "$VAULT"
cryptsnap backup a60 --json >/tmp/60.bk3.out 2>/tmp/60.bk3.err
refused "backup during a key rotation" $? /tmp/60.bk3.err 'locked by host .*(exclusive'
resume; rc=$?
[ $rc = 0 ] && t_ok "the rotation, resumed, completes" ||
	t_fail "rotation: rc=$rc $(tail -n 2 /tmp/60.rot.err)"
cryptsnap backup a60 --json >/tmp/60.ar.out 2>/tmp/60.ar.err && record /tmp/60.ar.out $DISK &&
	t_ok "backup after the rotation" || t_fail "backup after rotation: $(tail -n 2 /tmp/60.ar.err)"
check_all "backup + rotate"

# --- 4. restore + GC ---
cryptsnap prune --vault "$VAULT" --keep-last 2 --no-gc >/dev/null 2>&1
mark_gone
find "$VAULT" -type f -exec touch -d "@$(($(date +%s) - 259200))" {} +
keep=$(cryptsnap points --vault "$VAULT" --json | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1)
paused rs lock.taken cryptsnap restore --point "$keep" --to /tmp/60.rs.img --force
cryptsnap prune --vault "$VAULT" --keep-last 2 >/tmp/60.gc2.out 2>&1
rc=$?
[ $rc = 0 ] && grep -q 'garbage collection deferred' /tmp/60.gc2.out &&
	t_ok "GC during a restore is deferred" || t_fail "GC during restore: rc=$rc $(tail -n 2 /tmp/60.gc2.out)"
resume; rc=$?
compared=$((compared + 1))
[ $rc = 0 ] && [ "$(sum /tmp/60.rs.img)" = "${TRUTH[$keep]}" ] &&
	t_ok "the restore, resumed, is byte-exact" || { t_fail "restore after GC: rc=$rc"; wrong=$((wrong + 1)); }
rm -f /tmp/60.rs.img
paused gc2 lock.taken:2 cryptsnap prune --vault "$VAULT" --keep-last 2
cryptsnap restore --point "$keep" --to /tmp/60.rs.img --force >/dev/null 2>/tmp/60.rs2.err
refused "restore during GC" $? /tmp/60.rs2.err 'locked by host .*(exclusive'
resume; rc=$?
[ $rc = 0 ] && t_ok "GC, resumed: $(grep '^gc: ' /tmp/60.gc2.out)" || t_fail "GC: rc=$rc $(tail -n 2 /tmp/60.gc2.err)"
check_all "restore + GC"

# --- 5. two hosts on one vault ---
mkdir -p "$STATE_B" "$KEYS_B" && chmod 700 "$STATE_B" "$KEYS_B"
cp -a "$KEYS_A"/. "$KEYS_B"/
truncate -s 64M /tmp/60.b.img
LOOPB=$(losetup -f --show /tmp/60.b.img)
t_cleanup_add "losetup -d $LOOPB"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$LOOPB" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$LOOPB" b60 || t_fail "open host B's disk"
t_cleanup_add "cryptsetup close b60"
t_cleanup_add "CRYPTSNAP_STATE_DIR=$STATE_B CRYPTSNAP_KEY_DIR=$KEYS_B cryptsnap unprotect b60"
scribble b60 30 0
t_check "host B protects its disk into the same vault" \
	hostb cryptsnap protect b60 --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp
for round in 1 2; do
	scribble a60 2 $((round * 6))
	scribble b60 2 $((round * 7))
	cryptsnap backup a60 --json >/tmp/60.ha$round.out 2>/tmp/60.ha$round.err &
	pa=$!
	hostb cryptsnap backup b60 --json >/tmp/60.hb$round.out 2>/tmp/60.hb$round.err &
	pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	[ $ra = 0 ] && record /tmp/60.ha$round.out $DISK
	[ $rb = 0 ] && record /tmp/60.hb$round.out $LOOPB
	[ $ra = 0 ] && [ $rb = 0 ] && t_ok "round $round: hosts A and B back up at once, both succeed" ||
		t_fail "round $round: A rc=$ra $(tail -n 1 /tmp/60.ha$round.err); B rc=$rb $(tail -n 1 /tmp/60.hb$round.err)"
done
scribble b60 2 40
paused hb lock.taken /tmp/60.hostb cryptsnap backup b60 --json
cryptsnap key rotate --vault "$VAULT" >/tmp/60.hkr.out 2>/tmp/60.hkr.err
refused "host A's rotation while host B backs up" $? /tmp/60.hkr.err 'locked by host host-b60 .*another host'
cryptsnap prune --vault "$VAULT" --keep-last 20 >/tmp/60.hpr.out 2>&1
grep -q 'garbage collection deferred.*host host-b60' /tmp/60.hpr.out &&
	t_ok "host A's GC defers to host B's running backup" || t_fail "host A's prune: $(tail -n 2 /tmp/60.hpr.out)"
resume; rc=$?
[ $rc = 0 ] && record /tmp/60.hb.out $LOOPB && t_ok "host B's backup, resumed, completes" ||
	t_fail "host B's backup: rc=$rc $(tail -n 2 /tmp/60.hb.err)"
t_check "host B lists every point" bash -c "CRYPTSNAP_STATE_DIR=$STATE_B CRYPTSNAP_KEY_DIR=$KEYS_B \
	cryptsnap points --vault $VAULT >/dev/null"
check_all "two hosts"

echo "# concurrency: scenarios run $scen, restores compared $compared, points verified $verified, data lost $lost, wrong restores $wrong"
[ $lost = 0 ] && [ $wrong = 0 ] && t_ok "data lost 0, wrong restores 0" ||
	t_fail "data lost $lost, wrong restores $wrong"
t_cleanup
rm -rf /tmp/60.* "$STATE_B" "$KEYS_B"
