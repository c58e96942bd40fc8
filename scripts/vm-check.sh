#!/bin/bash
# Run the functional suite in the VM on each kernel given:
#   vm-check.sh KVER...
# Output is the guests' TAP; exit status non-zero if any kernel failed.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "vm-check: no kernel given (make deps installs them)" >&2; exit 2; }
rc=0
for k in "$@"; do
	echo "# === VM suite on $k"
	bash "$TOP/scripts/vm-run.sh" --check ${CRYPTSNAP_ONLY:+--only "$CRYPTSNAP_ONLY"} "$k" || rc=1
done
exit $rc
