#!/bin/bash
# make check-s3: starts the Swift fixture (tests/s3/swift-up.sh), runs the
# CLI suite on an S3 vault (tests/cli/run.sh with CLI_BACKEND=s3) and the
# S3-specific tests (tests/s3/s3.sh), stops the fixture.  TAP.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-swift.XXXXXX")
trap 'bash "$TOP/tests/s3/swift-down.sh" "$D"' EXIT
bash "$TOP/tests/s3/swift-up.sh" "$D" >/dev/null || exit 1
set -a
# shellcheck disable=SC1091
. "$D/env"
set +a
rc=0
echo "# CLI suite on s3://$S3_BUCKET"
CLI_BACKEND=s3 CLI_SIZE_MB=${CLI_SIZE_MB:-64} bash "$TOP/tests/cli/run.sh" || rc=1
echo "# S3-specific tests"
bash "$TOP/tests/s3/s3.sh" || rc=1
exit $rc
