#!/bin/bash
# The hostile-vault suite (issue 11): every tests/hostile/[0-9]*.sh case in
# order, TAP output, one summary.  Host only: image files, no root needed.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/hostile/lib.sh"
for t in "$TOP"/tests/hostile/[0-9]*.sh; do
	[ -e "$t" ] || continue
	echo "# $(basename "$t")"
	. "$t"
done
echo "1..$N"
echo "# hostile vault: $((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" = 0 ]
