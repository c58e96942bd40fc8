#!/bin/bash
# Runs the libFuzzer harnesses built by tests/fuzz/Makefile (issue 15).
#   fuzz.sh run HARNESS...     each for FUZZ_SECONDS (default 60), starting
#                              from tests/fuzz/corpus/HARNESS; what it finds
#                              goes to build/fuzz/corpus/HARNESS (kept
#                              between runs), crashes to build/fuzz/crashes/
#   fuzz.sh smoke HARNESS...   each over its seed corpus and its kept crash
#                              inputs (tests/fuzz/crashes/HARNESS) only
# TAP: "ok - fuzz HARNESS: N runs in S s" per harness; exit 1 on a crash.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build/fuzz
SEEDS=$TOP/tests/fuzz/corpus
KEPT=$TOP/tests/fuzz/crashes
SECS=${FUZZ_SECONDS:-60}
mode=${1:-}; shift || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz_vault_files and fuzz_state_files write a file per input: in tmpfs
# that is ~20 times faster than on disk.
if [ -z "${FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	FUZZ_TMPDIR=/dev/shm
fi
export TMPDIR=${FUZZ_TMPDIR:-${TMPDIR:-/tmp}}

runs_of() { sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1; }

fuzz_run() {	# harness
	local h=$1 log corpus rc
	log=$B/logs/$h.log corpus=$B/corpus/$h
	mkdir -p "$B/logs" "$B/crashes" "$corpus" "$SEEDS/$h"
	"$B/fuzz_$h" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=1024 -artifact_prefix="$B/crashes/$h-" \
		"$corpus" "$SEEDS/$h" >"$log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		echo "ok - fuzz $h: $(runs_of "$log") runs in $SECS s, corpus $(ls "$corpus" | wc -l) inputs"
	else
		echo "not ok - fuzz $h: exit $rc after $(runs_of "$log") runs (log $log)"
		grep -m 5 -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | sed 's/^/# /'
	fi
	return $rc
}

fuzz_smoke() {	# harness
	local h=$1 log rc dirs=()
	log=$B/logs/$h.smoke.log
	mkdir -p "$B/logs"
	[ -d "$SEEDS/$h" ] && dirs+=("$SEEDS/$h")
	[ -d "$KEPT/$h" ] && dirs+=("$KEPT/$h")
	[ ${#dirs[@]} -gt 0 ] || { echo "not ok - fuzz smoke $h: no seed corpus"; return 1; }
	"$B/fuzz_$h" -runs=0 -print_final_stats=1 -timeout=10 "${dirs[@]}" >"$log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		echo "ok - fuzz smoke $h: $(runs_of "$log") inputs"
	else
		echo "not ok - fuzz smoke $h: exit $rc (log $log)"
		grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/# /'
	fi
	return $rc
}

case $mode in
run|smoke) ;;
*) echo "usage: fuzz.sh run|smoke HARNESS..." >&2; exit 2 ;;
esac
rc=0
for h in "$@"; do
	"fuzz_$mode" "$h" || rc=1
done
exit $rc
