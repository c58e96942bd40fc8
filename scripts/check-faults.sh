#!/bin/bash
# make check-faults: the fault suite of issue 15 (docs/reliability.md).
#   kill  host: the tool SIGKILLed at every crash point (tests/faults/kill.sh)
#   apps  VM, each kernel: lock races of backup, prune, GC, restore, key
#         rotation and two hosts (tests/func/60-concurrency.sh); sqlite and
#         git written during backups (tests/func/61-app-truth.sh)
#   io    VM, each kernel given: dm-flakey, dm-delay and full filesystems
#         under the protected disk, the COW directory and the vault
#         (tests/func/65-io-faults.sh)
#   power host + VM: QEMU SIGKILLed during writes, backup, restore, prune
#         and key rotation on persistent images (tests/faults/power.sh)
#   check-faults.sh KVER...     CRYPTSNAP_FAULTS_PARTS="kill apps io power" picks parts
# VM_RUN (default "bash scripts/vm-run.sh") runs a guest.  Each part prints
# its counts line; the exit status is non-zero when any part failed.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
VM_RUN=${VM_RUN:-bash scripts/vm-run.sh}
PARTS=" ${CRYPTSNAP_FAULTS_PARTS:-kill apps io power} "
rc=0
mkdir -p build
summary=()

if [[ $PARTS = *" kill "* ]]; then
	bash tests/faults/kill.sh | tee build/faults-kill.log
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	summary+=("$(grep '^# kill -9: scenarios' build/faults-kill.log || echo 'not ok - kill -9: no counts line')")
fi
# vm_part NAME GLOB COUNTS...: the VM tests GLOB on each kernel; each
# COUNTS is the name of a "# COUNTS: ..." line the log must hold.
vm_part() {
	local name=$1 glob=$2 k log c counts
	shift 2
	mkdir -p build/vm-logs
	for k in "${KVERS[@]}"; do
		log=build/vm-logs/faults-$name-$k.log
		$VM_RUN --check --timeout "${CRYPTSNAP_FAULTS_TIMEOUT:-7200}" --only "$glob" \
			--env CRYPTSNAP_FAULTS_LANE=1 "$k" | tee "$log"
		[ "${PIPESTATUS[0]}" = 0 ] || rc=1
		for c in "$@"; do
			counts=$(grep "^# $c: scenarios" "$log") || { counts="not ok - $c: no counts line"; rc=1; }
			summary+=("${counts/\# $c:/# $c ($k):}")
		done
		summary+=("# $name ($k): $(grep -c '^ok' "$log") passed, $(grep -c '^not ok' "$log") failed")
	done
}
KVERS=("$@")
[[ $PARTS = *" apps "* ]] && vm_part apps '6[01]-*' concurrency app-truth
[[ $PARTS = *" io "* ]] && vm_part io '65-io-faults' 'io faults'
if [[ $PARTS = *" power "* ]]; then
	VM_RUN="$VM_RUN" bash tests/faults/power.sh "$@" | tee build/faults-power.log
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	summary+=("$(grep '^# power cut' build/faults-power.log || echo 'not ok - power cut: no counts line')")
fi
echo "# --- check-faults"
printf '%s\n' "${summary[@]}"
exit $rc
