#!/bin/bash
# Everything `make check` runs, in order: build (tool + module for every
# supported kernel, warning-free), host unit tests, host CLI tests, hostile
# vault, S3 subset on a private Swift, DKMS
# build, VM functional suite on every kernel.  All output is TAP-like; the
# last line is "N passed, N failed".  Exit status 0 only if nothing failed.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
KVERS=$(bash scripts/kernels.sh generic)
CLOUD_KVERS=$(bash scripts/kernels.sh cloud)
bash scripts/kernels.sh --report
rc=0

step() {
	local name=$1; shift
	echo "# === $name"
	"$@" 2>&1 | tee -a "$LOG"
	local s=${PIPESTATUS[0]}
	if [ "$s" != 0 ]; then
		echo "not ok - $name exited with status $s" | tee -a "$LOG"
		rc=1
	fi
}

build() {
	make --no-print-directory tool >/tmp/cryptsnap-build.log 2>&1 &&
		echo "ok - build tool (-Werror)" ||
		{ echo "not ok - build tool"; tail -n 30 /tmp/cryptsnap-build.log; }
	for k in $KVERS; do
		make --no-print-directory module KVER="$k" >/tmp/cryptsnap-build.log 2>&1 &&
			echo "ok - build module for $k (warning-free)" ||
			{ echo "not ok - build module for $k"; tail -n 30 /tmp/cryptsnap-build.log; }
	done
}

[ -n "$KVERS" ] || { echo "not ok - no supported kernel installed (make deps)"; exit 1; }
step "include layers" bash scripts/check-layers.sh
step build build
step "unit tests" make --no-print-directory -C tests/unit run
[ -f tests/cli/run.sh ] && step "CLI tests" bash tests/cli/run.sh
step "hostile vault" bash tests/hostile/run.sh
# The S3 backend against a private Swift (issue 17): a subset (round trips,
# leases, an object server killed, soft delete, clear errors); the full
# suite, with the CLI suite on S3, is make check-s3 (too long for here).
# run.sh stops the fixture on any exit and fails on a process it left.
step "S3 on Swift (subset)" bash tests/s3/run.sh --quick
# Each libFuzzer harness over its seed corpus and kept crash inputs (issue
# 15; the long runs are make fuzz).
step "fuzz smoke" make --no-print-directory fuzz-smoke
# The unit and CLI tests again with the tool built under ASan + UBSan
# (issue 15; build/asan, about 3 minutes on a quiet host).
step "ASan+UBSan unit and CLI tests" bash scripts/check-asan.sh
step "kernel selection" bash tests/build/kernels.sh
step "make install" bash tests/build/install.sh
step "man page and completion" bash tests/build/docs.sh
step "config check" bash tests/cli/config.sh
step "policy apply" bash tests/cli/policy.sh	# ~1 s
step "jobs --follow" bash tests/cli/jobs-follow.sh	# ~10 s
step "dkms" bash scripts/dkms-check.sh $KVERS $CLOUD_KVERS
step "VM suite" bash scripts/vm-check.sh $KVERS

pass=$(grep -Ec '^ok( |$)' "$LOG")
fail=$(grep -Ec '^not ok( |$)' "$LOG")
[ "$fail" = 0 ] || rc=1
echo "$pass passed, $fail failed"
exit $rc
