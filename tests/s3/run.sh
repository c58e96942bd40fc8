#!/bin/bash
# make check-s3: starts the Swift fixture (tests/s3/swift-up.sh), runs the
# CLI suite on an S3 vault (tests/cli/run.sh with CLI_BACKEND=s3) and the
# S3-specific tests (tests/s3/s3.sh), stops the fixture.  TAP.
#
# --quick (make check): no CLI suite, and s3.sh's subset (S3_QUICK=1):
# round trips, the lease lock, an object server killed mid-backup, wrong
# credentials and a missing bucket.  The full run is make check-s3.
#
# The fixture is stopped on every exit (and on INT/TERM); a process of it
# still alive after that (matched by its own directory) is a failure and
# is killed, so make check goes on without a leftover Swift.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=
[ "${1:-}" = --quick ] && QUICK=1
D=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-swift.XXXXXX")
stop_fixture() {
	local left
	bash "$TOP/tests/s3/swift-down.sh" "$D"
	left=$(pgrep -f -- "$D/" | tr '\n' ' ')
	if [ -n "$left" ]; then
		echo "not ok - Swift fixture processes left behind: $left"
		for p in $left; do kill -9 "$p" 2>/dev/null; done
	fi
}
trap stop_fixture EXIT
trap 'exit 130' INT TERM
bash "$TOP/tests/s3/swift-up.sh" "$D" >/dev/null || { echo "not ok - Swift fixture did not start"; exit 1; }
set -a
# shellcheck disable=SC1091
. "$D/env"
set +a
rc=0
if [ -z "$QUICK" ]; then
	echo "# CLI suite on s3://$S3_BUCKET"
	CLI_BACKEND=s3 CLI_SIZE_MB=${CLI_SIZE_MB:-64} bash "$TOP/tests/cli/run.sh" || rc=1
fi
echo "# S3-specific tests${QUICK:+ (subset; make check-s3 runs them all)}"
S3_QUICK=$QUICK bash "$TOP/tests/s3/s3.sh" || rc=1
exit $rc
