#!/bin/bash
# The kill -9 fault suite (issue 15), host part: image files, no root, no
# kernel.  For each operation (first and incremental backup, restore,
# prune, GC, key rotation, vault repair) it first runs the operation with
# CRYPTSNAP_CRASH_LIST to learn every crash point it passes, then, for each
# point (and passage: first, second and last of each name), starts again
# from the same vault, kills the tool there (CRYPTSNAP_CRASH_AT, SIGKILL)
# and checks what a user would then do:
#   - `verify` is clean (exit 0) right after the kill,
#   - the interrupted operation, run again, succeeds; verify is clean,
#   - the next backup succeeds,
#   - every point a rule keeps is still listed by `points`, and every
#     listed point restores byte for byte to the image version it was
#     made from (copies of each version are kept).
# Ends with the counts line and a TAP summary "N passed, N failed".
#   CRYPTSNAP_KILL_ONLY=REGEX   only scenarios whose name matches
#   CRYPTSNAP_KILL_PASSAGES=all every passage of every name (default:
#                               first, second and last of each name)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
ONLY=${CRYPTSNAP_KILL_ONLY:-.}
PASSAGES=${CRYPTSNAP_KILL_PASSAGES:-ends}

BASE=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-kill.XXXXXX")
trap 'cd /; rm -rf "$BASE"' EXIT
# Every trial runs at the same path: the pin and the key directory name
# files by absolute path, so a vault copied elsewhere would not unlock.
RUN=$BASE/run
IMGS=$BASE/imgs		# image versions, never changed once written
mkdir -p "$IMGS"
export CRYPTSNAP_KEY_DIR=$RUN/keys
export CRYPTSNAP_STATE_DIR=$RUN/state
: >"$BASE/empty.conf"
export CRYPTSNAP_CONFIG=$BASE/empty.conf	# the host's config must not steer
unset CRYPTSNAP_CRASH_AT CRYPTSNAP_CRASH_LIST

N=0 FAILED=0
SCENARIOS=0 FAULTS=0 RESTORES=0 POINTS=0 LOST=0 WRONG=0
declare -A NAMES=()	# distinct crash points hit
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
log_tail() { sed 's/^/#   /' "$1" | tail -n 8; }

# Image versions: v1..v5 of 4 MiB.  v2 changes 1 MiB of v1 (shared
# chunks, so dedup and GC keep part of v1's pack), v3 and v5 are new data,
# v4 is v3 with two holes of zeros.
make_images() {
	head -c 4M /dev/urandom >"$IMGS/v1"
	cp "$IMGS/v1" "$IMGS/v2"
	head -c 1M /dev/urandom | dd of="$IMGS/v2" bs=1M seek=2 conv=notrunc status=none
	head -c 4M /dev/urandom >"$IMGS/v3"
	cp "$IMGS/v3" "$IMGS/v4"
	dd if=/dev/zero of="$IMGS/v4" bs=64K seek=5 count=7 conv=notrunc status=none
	dd if=/dev/zero of="$IMGS/v4" bs=64K seek=40 count=3 conv=notrunc status=none
	head -c 4M /dev/urandom >"$IMGS/v5"
	head -c 48 /dev/urandom >"$IMGS/secret"
	chmod 600 "$IMGS/secret"
}

# --- the world of one trial: $RUN with v/, keys/, state/ and expect
# ("POINT IMAGE" for every point that must exist; "?POINT IMAGE" for a
# point that may be gone, e.g. one prune is removing).
cs() { "$CS" "$@"; }
point_ids() {
	cs points --vault "$RUN/v" --json |
		python3 -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)]'
}
# backup_expect IMAGE [must|maybe]: backs up IMAGE, records the new point.
backup_expect() {
	local before after new
	before=$(point_ids) || return 1
	cs backup --vault "$RUN/v" --source "$IMGS/$1" --disk d1 \
		--escrow-secret "pass=$IMGS/secret" >/dev/null || return 1
	after=$(point_ids) || return 1
	new=$(comm -13 <(sort <<<"$before") <(sort <<<"$after"))
	[ "$(grep -c . <<<"$new")" = 1 ] || return 1
	echo "$new $1" >>"$RUN/expect"
}
age_vault() {	# GC keeps objects younger than a day: make them old
	find "$RUN/v" -type f -exec touch -d '3 days ago' {} +
}
save_world() { rm -rf "$BASE/tpl-$1"; cp -a "$RUN" "$BASE/tpl-$1"; }
load_world() { rm -rf "$RUN"; cp -a "$BASE/tpl-$1" "$RUN"; }
fresh_world() {
	rm -rf "$RUN"
	mkdir -p "$RUN"
	: >"$RUN/expect"
	cs vault init "$RUN/v" --deleted-grace 0 >/dev/null	# prune purges at once, as before soft delete
}

# --- scenarios: setup_X builds the world, op_X is the operation killed,
# OP_IMAGE the image a point made by op_X holds, after_X what the rerun
# checks beyond the common ones.
setup_backup_first() { fresh_world; }
op_backup_first() { cs backup --vault "$RUN/v" --source "$IMGS/v1" --disk d1 --escrow-secret "pass=$IMGS/secret"; }
setup_backup_incr() { fresh_world && backup_expect v1; }
op_backup_incr() { cs backup --vault "$RUN/v" --source "$IMGS/v2" --disk d1 --escrow-secret "pass=$IMGS/secret"; }
setup_restore() { fresh_world && backup_expect v1 && backup_expect v4; }
op_restore() {
	cs restore --vault "$RUN/v" --point "$(awk '$2 == "v4" {print $1}' "$RUN/expect")" \
		--to "$RUN/out.img" "$@"
}
setup_prune() {
	fresh_world && backup_expect v1 && backup_expect v2 && backup_expect v3 || return
	age_vault
	# Points of one second order by id, not by time: ask prune which
	# points keep-last 1 drops; those may be gone, the others must stay.
	cs prune --vault "$RUN/v" --keep-last 1 --dry-run | awk '$1 == "would" {print $3}' |
		while read -r p; do sed -i "s/^$p /?&/" "$RUN/expect"; done
	[ "$(grep -c '^?' "$RUN/expect")" = 2 ]
}
op_prune() { cs prune --vault "$RUN/v" --keep-last 1; }
setup_gc() {
	setup_prune && cs prune --vault "$RUN/v" --keep-last 1 --no-gc >/dev/null || return
	age_vault
	sed -i '/^?/d' "$RUN/expect"
}
op_gc() { cs prune --vault "$RUN/v"; }	# no rules: no point removed, GC only
setup_rotate() { fresh_world && backup_expect v1 && backup_expect v3; }
op_rotate() { cs key rotate --vault "$RUN/v"; }
setup_repair() {
	fresh_world && backup_expect v1 && backup_expect v2 || return
	rm -f "$RUN"/v/index/*.idx
}
op_repair() { cs vault repair --vault "$RUN/v"; }

# DEK rollover: a usage record (not authenticated, docs/vault-format.md)
# that says the current DEK sealed its whole budget; the GC of the next
# prune folds it into the keyring and makes a new DEK.
setup_dek_roll() {
	fresh_world && backup_expect v1 && backup_expect v3 || return
	python3 - "$RUN/v" <<'PY'
import json, os, sys
v = sys.argv[1]
cur = json.load(open(os.path.join(v, "keys.json")))["current_dek"]
f = os.path.join(v, "usage", "20260101T000000Z-0badc0de.json")
os.makedirs(os.path.dirname(f), exist_ok=True)
open(f, "w").write(json.dumps({"dek": cur, "blobs": 1 << 28}))
os.chmod(f, 0o600)
PY
}
op_dek_roll() { cs prune --vault "$RUN/v"; }
# A rotation killed after its journal: the next one first recovers
# (rolls the first back), and is killed in turn at each of its points.
setup_rotate_recover() {
	setup_rotate || return
	CRYPTSNAP_CRASH_AT=rotate.journal-written op_rotate
	[ $? = 137 ] && [ -e "$RUN/v/rotation.json" ]
}
op_rotate_recover() { op_rotate; }

# What the unfaulted run must print: the scenario did its work.
declare -A OP_SAYS=([backup_first]='^point ' [backup_incr]='^point ' [restore]='.'
	[prune]='^2 points removed' [gc]=' [1-9][0-9]* packs deleted'
	[dek_roll]='DEK use budget reached: new DEK' [rotate]='^KEK rotated'
	[rotate_recover]='^KEK rotated' [repair]='^[1-9][0-9]* packs re-indexed')
declare -A OP_IMAGE=([backup_first]=v1 [backup_incr]=v2)
# The repair scenario starts from a vault whose index is gone (verify
# fails before the repair runs): its check right after the kill is that
# the repair, run again, makes verify clean.
declare -A VERIFY_AFTER_KILL=([repair]=0)

# --- checks after a kill
# adopt_new_points IMAGE: points not in expect came from the killed or
# rerun backup; they must hold IMAGE.
adopt_new_points() {
	local p
	for p in $(point_ids); do
		grep -q "^?\?$p " "$RUN/expect" && continue
		if [ -n "$1" ]; then
			echo "$p $1" >>"$RUN/expect"
		else
			echo "$p ?" >>"$RUN/expect"	# restored below: fails as unknown
		fi
	done
}
verify_clean() {	# verify_clean LABEL: exit 0, counts the points it checked
	local n
	if cs verify --vault "$RUN/v" >"$BASE/verify.log" 2>&1; then
		n=$(grep -c '^ok ' "$BASE/verify.log")
		POINTS=$((POINTS + n))
		return 0
	fi
	return 1
}
# Every expected point listed, every listed point byte-exact.
check_points() {
	local what=$1 ids p img line bad=0
	ids=$(point_ids) || { not_ok "$what: points lists the vault"; LOST=$((LOST + 1)); return; }
	while read -r p img; do
		[ -n "$p" ] || continue
		case $p in
		\?*) grep -qx "${p#\?}" <<<"$ids" || continue; p=${p#\?} ;;
		*) if ! grep -qx "$p" <<<"$ids"; then
			   LOST=$((LOST + 1)); bad=1
			   echo "#   point $p ($img) is gone"
			   continue
		   fi ;;
		esac
		if [ "$img" = "?" ]; then
			WRONG=$((WRONG + 1)); bad=1
			echo "#   point $p was made by no backup of this trial"
			continue
		fi
		rm -f "$BASE/restored.img"
		if ! cs restore --vault "$RUN/v" --point "$p" --to "$BASE/restored.img" \
			>"$BASE/restore.log" 2>&1; then
			LOST=$((LOST + 1)); bad=1
			echo "#   point $p ($img) does not restore:"; log_tail "$BASE/restore.log"
		elif cmp -s "$BASE/restored.img" "$IMGS/$img"; then
			RESTORES=$((RESTORES + 1))
		else
			WRONG=$((WRONG + 1)); bad=1
			echo "#   point $p restores to bytes other than $img"
		fi
	done <"$RUN/expect"
	if [ "$bad" = 0 ]; then ok "$what: every kept point listed and byte-exact"
	else not_ok "$what: points lost or wrong"; fi
}
step() {	# step LABEL command...: ok when it exits 0
	local what=$1; shift
	if "$@" >"$BASE/step.log" 2>&1; then ok "$what"; return 0; fi
	not_ok "$what (exit $?)"; log_tail "$BASE/step.log"; return 1
}

after_kill() {	# after_kill SCENARIO LABEL
	local s=$1 t=$2 img=${OP_IMAGE[$1]:-}
	if [ "${VERIFY_AFTER_KILL[$s]:-1}" = 1 ]; then
		if verify_clean; then ok "$t: verify clean after the kill"
		else not_ok "$t: verify after the kill"; log_tail "$BASE/verify.log"; fi
	fi
	adopt_new_points "$img"
	case $s in
	restore)
		step "$t: restore again (--force)" op_restore --force &&
			if cmp -s "$RUN/out.img" "$IMGS/v4"; then
				RESTORES=$((RESTORES + 1)); ok "$t: the rerun restore is byte-exact"
			else
				WRONG=$((WRONG + 1)); not_ok "$t: the rerun restore differs from v4"
			fi ;;
	*)	step "$t: $s runs again" "op_$s" ;;
	esac
	adopt_new_points "$img"
	if [ "$s" = prune ]; then	# the rerun removed what the rules drop
		sed -i '/^?/d' "$RUN/expect"
	fi
	if verify_clean; then ok "$t: verify clean after the rerun"
	else not_ok "$t: verify after the rerun"; log_tail "$BASE/verify.log"; fi
	step "$t: the next backup" backup_expect v5
	check_points "$t"
	leftovers_go "$t"
}

# What the kill left (tmp/ uploads, a dead process's lock, unreferenced
# packs and index objects) goes with the next lockers and a GC a day
# later, and the vault still verifies clean.
leftovers_go() {
	local t=$1 left
	age_vault
	step "$t: GC a day later" cs prune --vault "$RUN/v" || return
	left=$(cd "$RUN/v" && find tmp locks -type f 2>/dev/null)
	if [ -z "$left" ]; then ok "$t: no upload or lock left"
	else not_ok "$t: left behind: $(echo $left)"; fi
	if verify_clean; then ok "$t: verify clean after GC"
	else not_ok "$t: verify after GC"; log_tail "$BASE/verify.log"; fi
}

# Which passages of each name to kill at: "name:n" lines.
passages() {
	sort "$1" | uniq -c | while read -r count name; do
		if [ "$PASSAGES" = all ]; then
			seq 1 "$count"
		else
			printf '%s\n' 1 2 "$count" | awk -v c="$count" '$1 <= c' | sort -un
		fi | sed "s/^/$name:/"
	done
}

scenario() {
	local s=$1 at rc
	[[ $s =~ $ONLY ]] || return 0
	echo "# === $s"
	if ! "setup_$s" >"$BASE/setup.log" 2>&1; then
		not_ok "$s: setup"; log_tail "$BASE/setup.log"; return
	fi
	save_world "$s"
	rm -f "$BASE/list"
	if ! CRYPTSNAP_CRASH_LIST=$BASE/list "op_$s" >"$BASE/op.log" 2>&1; then
		not_ok "$s: runs without a fault"; log_tail "$BASE/op.log"; return
	fi
	if ! grep -Eq -- "${OP_SAYS[$s]}" "$BASE/op.log"; then
		not_ok "$s: the unfaulted run did not print /${OP_SAYS[$s]}/"; log_tail "$BASE/op.log"
	fi
	ok "$s: runs without a fault, passing $(sort -u "$BASE/list" | grep -c .) crash points ($(grep -c . "$BASE/list") passages)"
	for at in $(passages "$BASE/list"); do
		load_world "$s"
		SCENARIOS=$((SCENARIOS + 1))
		CRYPTSNAP_CRASH_AT=$at "op_$s" >"$BASE/op.log" 2>&1
		rc=$?
		if [ "$rc" != 137 ]; then
			# A passage count can differ between runs (a stale
			# lock, a job record's timer): not reached is no fault.
			if [ "$rc" = 0 ]; then echo "ok $((N + 1)) - $s@$at # SKIP not reached"; N=$((N + 1))
			else not_ok "$s@$at: exit $rc without the kill"; log_tail "$BASE/op.log"; fi
			continue
		fi
		FAULTS=$((FAULTS + 1))
		NAMES[${at%:*}]=1
		after_kill "$s" "$s@$at"
	done
}

[ -x "$CS" ] || { echo "not ok 1 - no tool at $CS (make tool)"; exit 1; }
make_images
for s in backup_first backup_incr restore prune gc dek_roll rotate rotate_recover repair; do
	scenario "$s"
done
echo "1..$N"
echo "# kill -9: scenarios run $SCENARIOS, faults injected $FAULTS, distinct crash points ${#NAMES[@]}, restores compared byte-exact $RESTORES, points verified $POINTS, data lost $LOST, wrong restores $WRONG"
echo "# kill -9: $((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$LOST" = 0 ] && [ "$WRONG" = 0 ]
