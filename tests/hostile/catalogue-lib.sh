# Helpers of the catalogue/GC/repair cases (30-49), sourced by them.
# refused "description" rc command...: exits with rc and prints exactly one
# line on stderr, starting with "cryptsnap" (stdout may carry a report,
# e.g. prune's list of kept points before its GC refuses).
refused() {
	local d=$1 want=$2 rc lines; shift 2
	"$@" >"$WORK/stdout.log" 2>"$WORK/out.log"; rc=$?
	lines=$(grep -c . "$WORK/out.log")
	cp "$WORK/out.log" "$WORK/refusal.log"
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -q '^cryptsnap' "$WORK/out.log"; then
		ok "$d ($(head -c 200 "$WORK/out.log"))"
	else
		not_ok "$d (rc $rc, want $want; $lines lines on stderr)"
		sed 's/^/# /' "$WORK/out.log" "$WORK/stdout.log"
	fi
}
said() { grep -q -- "$1" "$WORK/refusal.log"; }	# in the last refusal
# Two points of disk d1 in vault v: P1 of img1, P2 of img2 (img1 with 1 MiB
# changed), each restoring byte for byte.
two_points() {
	head -c 8M /dev/urandom >img1
	cp img1 img2
	head -c 1M /dev/urandom | dd of=img2 bs=1M seek=3 conv=notrunc status=none
	check "vault init" "$CS" vault init v
	check "backup 1" "$CS" backup --vault v --source img1 --disk d1
	P1=$(last_point v)
	check "backup 2" backup_new v img2 d1
	P2=$NEW
}
# backup_new VAULT IMAGE DISK: backs up and sets NEW to the point it made
# (points of one second are not ordered by time).
backup_new() {
	ls "$1/points" >"$WORK/points.before"
	"$CS" backup --vault "$1" --source "$2" --disk "$3" || return
	NEW=$(ls "$1/points" | grep -vxFf "$WORK/points.before" | sed 's/\.point$//')
	[ -n "$NEW" ]
}
packs_sum() { find v/packs -type f -name '*.pack' | sort | xargs sha256sum; }
# One step past the attack: a normal backup and its restore still work.
still_works() {
	head -c 2M /dev/urandom | dd of=img2 bs=1M seek=5 conv=notrunc status=none
	check "a normal backup still works" backup_new v img2 d1
	check "and its point restores byte for byte" restores_exact v "$NEW" img2
}
