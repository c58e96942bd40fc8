# Helpers for the issue-3 tests (20-39): sourced, not a test.  The runner
# globs tests/func/[0-9]*.sh, so running it directly does nothing.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Field N (0-based, as numbered in include/cryptsnap-dm.h) of a
# cryptsnap or cryptsnap-view status line.
cs_field() { dmsetup status "$1" | awk -v f="$2" '{print $(4 + f)}'; }
cs_changed()  { cs_field "$1" 2; }
cs_counter()  { cs_field "$1" 4; }
cs_base()     { cs_field "$1" 5; }
cs_state()    { cs_field "$1" 6; }
cs_cowused()  { cs_field "$1" 7; }
cs_frozen()   { cs_field "$1" 9; }
cs_setstate() { cs_field "$1" 10; }

cs_msg() { local d=$1; shift; dmsetup message "$d" 0 "$@"; }

# The whole frozen change set of $1, one chunk number per line, read in
# pages of at most ${2:-4096} extents.
cs_changes() {
	local dev=$1 max=${2:-4096} next=0 chunks out n list
	chunks=$(cs_field "$dev" 1)
	while [ "$next" -lt "$chunks" ]; do
		out=$(cs_msg "$dev" changes "$next" "$max") || return 1
		read -r next n list <<<"$out"
		[ "$list" = "-" ] && continue
		tr ',' '\n' <<<"$list" | awk -F: '{for (i = 0; i < $2; i++) print $1 + i}'
	done
}

# Write 4 KiB of random data at chunk $2 (+ $3 sectors) of device $1.
cs_touch() {
	dd if=/dev/urandom of="$1" bs=512 count=8 seek=$(( $2 * ${CS_CHUNK:-128} + ${3:-0} )) \
		oflag=direct conv=notrunc status=none
}

# Compare two sorted lists of chunk numbers; print the difference.
cs_same_set() {
	local a b
	a=$(sort -n "$1" | uniq); b=$(sort -n "$2" | uniq)
	if [ "$a" = "$b" ]; then return 0; fi
	echo "expected: $(echo $a | head -c 300)"
	echo "got:      $(echo $b | head -c 300)"
	return 1
}
