# Shared by the hostile-vault cases (tests/hostile/[0-9]*.sh), sourced by
# run.sh.  Every case plays a vault writer who is not trusted: it changes
# vault content, then runs the tool as root would and checks that
#   - the tool refuses with a one-line message and the documented exit code,
#   - no file outside the vault changed (canaries),
#   - no secret became readable with an attacker's key,
#   - every kept point still restores byte for byte.
# Needs no root and no kernel: image files only.
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CS_BUILT=${CRYPTSNAP:-$TOP/userspace/cryptsnap}

N=${N:-0}
FAILED=${FAILED:-0}
ok() { N=$((N + 1)); echo "ok $N - $CASE: $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $CASE: $*"; }
check() {	# check "description" command...
	local d=$1; shift
	if "$@" >"$WORK/out.log" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$WORK/out.log"; fi
}
# check_fails "description" rc command...: exits with rc and prints exactly
# one line on stderr+stdout that starts with "cryptsnap:".
check_fails() {
	local d=$1 want=$2 rc lines; shift 2
	"$@" >"$WORK/out.log" 2>&1; rc=$?
	lines=$(grep -c . "$WORK/out.log")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ]; then
		ok "$d ($(head -c 160 "$WORK/out.log"))"
	else
		not_ok "$d (rc $rc, want $want; $lines lines)"
		sed 's/^/# /' "$WORK/out.log"
	fi
}

# A fresh world per case: its own key dir, host state dir, canaries.
case_begin() {
	CASE=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-hostile.XXXXXX")
	export CRYPTSNAP_KEY_DIR=$WORK/keys
	export CRYPTSNAP_STATE_DIR=$WORK/state
	# The host's /etc/cryptsnap/cryptsnap.conf must not steer a case.
	: >"$WORK/empty.conf"
	export CRYPTSNAP_CONFIG=$WORK/empty.conf
	mkdir -p "$WORK/outside"
	for f in canary1 canary2; do
		head -c 4096 /dev/urandom >"$WORK/outside/$f"
	done
	cp "$CS_BUILT" "$WORK/cryptsnap"
	CS=$WORK/cryptsnap
	cd "$WORK" || exit 1
	(cd "$WORK/outside" && sha256sum canary1 canary2) >"$WORK/canaries.sum"
}
canaries_intact() {
	(cd "$WORK/outside" && sha256sum --quiet -c "$WORK/canaries.sum")
}
case_end() {
	check "no file outside the vault changed" canaries_intact
	cd "$TOP" || exit 1
	rm -rf "$WORK"
}

# The point the last backup into VAULT made.  Point ids carry seconds, so
# points of one second list in id order, not in the order they were made:
# remember what was listed and return the point that is new since the
# last call (or the one returned then, when none is).
last_point() {
	local seen="$WORK/.points-$(printf %s "$1" | tr -c 'a-zA-Z0-9\n' _)" all new
	all=$("$CS" points --vault "$1" --json |
		python3 -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)]')
	touch "$seen"
	new=$(printf '%s\n' "$all" | grep -vxF -f "$seen" | tail -n 1)
	if [ -n "$new" ]; then
		printf '%s\n' "$all" >"$seen"
		printf '%s\n' "$new" >"$seen.last"
	fi
	if [ -s "$seen.last" ]; then cat "$seen.last"; else printf '%s\n' "$all" | tail -n 1; fi
}
# restores_exact VAULT POINT IMAGE: the point restores to IMAGE's bytes.
restores_exact() {
	rm -f "$WORK/restored.img"
	"$CS" restore --vault "$1" --point "$2" --to "$WORK/restored.img" >/dev/null 2>&1 &&
		cmp -s "$WORK/restored.img" "$3"
}
