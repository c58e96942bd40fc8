#!/bin/bash
# The debug-kernel lane (make check-debug, docs/reliability.md):
#   1. build or reuse the debug kernel (scripts/debug-kernel.sh build),
#   2. build dm-cryptsnap.ko against its tree (make ... KDIR=),
#   3. run the VM suite on it (vm-run.sh with CRYPTSNAP_KROOT), which fails
#      on any lockdep, KASAN or sleep-in-atomic report in the guest's log,
#   4. check from the guest's log that the checks were really compiled in.
# Environment: VM_RUN (default "bash scripts/vm-run.sh"; wrap it in flock on
# a shared host), CRYPTSNAP_ONLY (test glob), CRYPTSNAP_DEBUG_TIMEOUT
# (seconds for the guest; default 4 hours).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
VM_RUN=${VM_RUN:-bash scripts/vm-run.sh}

t0=$(date +%s)
kroot=$(bash scripts/debug-kernel.sh build | tail -n 1) || exit 1
[ -f "$kroot/done" ] || { echo "check-debug: no kernel in '$kroot'" >&2; exit 1; }
rel=$(cat "$kroot/kernelrelease")
echo "# check-debug: kernel $rel from $kroot ($(cat "$kroot/done"))"

# The module is rebuilt every time: the kernel under the same release name
# may have been rebuilt with another config.
rm -f "$TOP/build/$rel/dm-cryptsnap.ko"
make --no-print-directory "$TOP/build/$rel/dm-cryptsnap.ko" KDIR="$kroot/build" || exit 1
t1=$(date +%s)
echo "# check-debug: kernel and module ready in $((t1 - t0))s"

export CRYPTSNAP_KROOT=$kroot
# KASAN announces itself at KERN_INFO, which the default console level (6)
# hides; the banner check below needs it on the console.
export CRYPTSNAP_LOGLEVEL=7
# shellcheck disable=SC2086
$VM_RUN --check ${CRYPTSNAP_ONLY:+--only "$CRYPTSNAP_ONLY"} \
	--timeout "${CRYPTSNAP_DEBUG_TIMEOUT:-14400}" "$rel"
rc=$?
t2=$(date +%s)

# A lane that boots a kernel without its checks would pass vacuously.
con=${CRYPTSNAP_VM_LOGS:-$TOP/build/vm-logs}/console-check-$rel.log
for banner in 'KernelAddressSanitizer initialized' 'Lock dependency validator'; do
	if ! grep -q "$banner" "$con" 2>/dev/null; then
		echo "not ok - check-debug: '$banner' missing from $con"
		rc=1
	fi
done
echo "# check-debug: VM suite took $((t2 - t1))s; exit $rc"
exit $rc
