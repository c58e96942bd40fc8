#!/bin/bash
# Run the functional suite in the VM on each kernel given:
#   vm-check.sh KVER...
# Output is the guests' TAP, one kernel after the other; exit status
# non-zero if any kernel failed.  Guests run side by side, up to
# CRYPTSNAP_VM_JOBS at once (default: one per host CPU): each TCG guest
# runs single-threaded, so on a 2-core host two kernels take the time of
# one.  Benchmarks never use this (they time things: one guest at a time).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "vm-check: no kernel given (make deps installs them)" >&2; exit 2; }
jobs=${CRYPTSNAP_VM_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$OUT"' EXIT

run_one() {
	bash "$TOP/scripts/vm-run.sh" --check ${CRYPTSNAP_ONLY:+--only "$CRYPTSNAP_ONLY"} "$1" \
		>"$OUT/$1.log" 2>&1
	echo $? >"$OUT/$1.rc"
}

running=0
for k in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "# vm-check: starting the VM suite on $k"
	run_one "$k" &
	running=$((running + 1))
done
wait
rc=0
for k in "$@"; do
	echo "# === VM suite on $k"
	cat "$OUT/$k.log"
	[ "$(cat "$OUT/$k.rc" 2>/dev/null)" = 0 ] || rc=1
done
exit $rc
