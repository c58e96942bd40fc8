#!/bin/bash
# The power-cut fault suite (issue 15), host part.  Boots the test guest
# (scripts/vm-run.sh --job tests/faults/power-guest.sh) on host image
# files that persist between boots: the protected LUKS2 disk, the vault's
# disk, a "system" disk with the tool's state and KEK directory, a restore
# target, and a small control disk through which this script tells each
# boot what to do and what must have survived.  Each boot starts one
# operation and says so ("power: cut OP"); this script then waits for a
# moment inside it (a random number of the tool's crash points passed,
# CRYPTSNAP_CRASH_LIST streamed on the guest's TAP port, or a random
# delay) and kills QEMU with SIGKILL: a power cut.  The next boot, on the
# same images, checks: the file systems are clean after their journal
# replay, `cryptsnap boot` restacks the target and says tracking
# restarted, the disk opens, every fsynced file holds its last synced (or
# in-flight) content, every point committed before the cut is listed and
# restores byte-exact, verify is clean, the interrupted command runs
# again, and the next backup is a full scan that says why and restores to
# exactly the disk.  Then it starts the next operation.
#
#   power.sh [KVER...]            default: the generic kernels (scripts/kernels.sh)
#   CRYPTSNAP_POWER_OPS="write backup restore prune rotate"   the cuts, in order
#   CRYPTSNAP_POWER_ROUNDS=N      the sequence N times per kernel (default 1)
#   CRYPTSNAP_POWER_SEED=N        random moments (default: the time; printed)
#   VM_RUN="/work/vm-slot bash scripts/vm-run.sh"   how each boot is run
#
# Why cache=writethrough (vm-run.sh --disk): the guest is then told its
# disks have no volatile write cache, and QEMU completes a write only once
# it is in the host file.  SIGKILL of QEMU loses exactly what a power cut
# of such a machine loses: the guest's memory (page cache, dirty pages,
# the tool's buffers, the target's in-memory change map and the COW
# store's loop device state) and the requests still in flight; everything
# the guest saw completed is on the image.  With cache=unsafe/writeback
# the guest would believe in a volatile cache that a QEMU kill never
# loses (the host keeps QEMU's writes), so the test would pass while a
# missing flush went unnoticed; writethrough at least does not pretend.
# The images live in /dev/shm by default (CRYPTSNAP_POWER_DIR): the host
# does not crash, and O_DSYNC there costs nothing.
#
# Ends with the counts line and "N passed, N failed"; fails unless every
# check passed, data lost = 0 and wrong restores = 0.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
read -r -a VM_RUN <<<"${VM_RUN:-bash scripts/vm-run.sh}"
OPS=${CRYPTSNAP_POWER_OPS:-write backup restore prune rotate}
ROUNDS=${CRYPTSNAP_POWER_ROUNDS:-1}
SEED=${CRYPTSNAP_POWER_SEED:-$(date +%s)}
RANDOM=$SEED
if [ $# -gt 0 ]; then
	KVERS=("$@")
else
	read -r -a KVERS <<<"$(bash scripts/kernels.sh generic 2>/dev/null | tr "\n" " ")"
fi
[ ${#KVERS[@]} -gt 0 ] || { echo "power: no kernel to boot (make deps)" >&2; exit 2; }

N=0 FAILED=0
SCENARIOS=0 FAULTS=0 RESTORES=0 POINTS=0 LOST=0 WRONG=0 SYNCED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }

BASE=$(mktemp -d "${CRYPTSNAP_POWER_DIR:-/dev/shm}/cryptsnap-power.XXXXXX")
qpidf=$BASE/qemu.pid
cleanup() {
	[ -s "$qpidf" ] && kill -9 "$(cat "$qpidf")" 2>/dev/null
	rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "# power: seed $SEED, kernels ${KVERS[*]}, cuts: $OPS (x$ROUNDS)"

# kill_qemu: SIGKILL, then wait until it is gone.  Counts a fault only
# when the process was alive and died.
kill_qemu() {
	local p
	p=$(cat "$qpidf" 2>/dev/null) || return 1
	kill -0 "$p" 2>/dev/null || return 1
	kill -9 "$p" || return 1
	while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	return 0
}

# out_of BOOT: the boot's TAP port so far, without the tty's CRs.
out_of() { tr -d '\r' <"$BASE/boot$1.out" 2>/dev/null; }
# live_of BOOT: the same, read where QEMU writes it (vm-run --tap-log).
live_of() { tr -d '\r' <"$BASE/tap$1" 2>/dev/null; }

# cut_when OP BOOT: waits for "power: cut OP", then for the chosen moment,
# and kills QEMU.  Prints where the cut landed.
cut_when() {
	local op=$1 b=$2 k=0 ms=0 t0 seen where fin
	case $op in
	write) ms=$((2000 + RANDOM % 6000)) ;;
	restore) k=$((1 + RANDOM % 12)); ms=$((RANDOM % 800)) ;;
	backup) k=$((1 + RANDOM % 20)); ms=$((RANDOM % 400)) ;;
	prune) k=$((1 + RANDOM % 100)); ms=$((RANDOM % 200)) ;;
	rotate) k=$((1 + RANDOM % 40)); ms=$((RANDOM % 200)) ;;
	esac
	while ! live_of "$b" | grep -qx "power: cut $op"; do
		kill -0 "$vpid" 2>/dev/null || return 1
		sleep 0.2
	done
	# k crash points passed after the marker (or the operation ended).
	while :; do
		seen=$(live_of "$b" | sed -n "/^power: cut $op\$/,\$p" | grep -cE '^[a-z-]+\.[a-z-]+$')
		[ "$seen" -ge "$k" ] && break
		live_of "$b" | grep -qx 'power: op finished' && break
		kill -0 "$vpid" 2>/dev/null || return 1
		sleep 0.05
	done
	t0=$ms
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	# Where the tool was, read just before the kill (it may pass a few
	# more crash points before QEMU is gone).
	where=$(live_of "$b" | sed -n "/^power: cut $op\$/,\$p" | grep -E '^[a-z-]+\.[a-z-]+$')
	fin=$(live_of "$b" | grep -cx 'power: op finished')
	if kill_qemu; then
		FAULTS=$((FAULTS + 1))
		CUT_AT="aimed at crash point $k + $t0 ms; $(grep -c . <<<"$where") passed, last ${where##*$'\n'}"
		[ -n "$where" ] || CUT_AT="$t0 ms after the start"
		[ "$fin" = 0 ] || CUT_AT="$CUT_AT, after the operation had finished"
		return 0
	fi
	return 1
}

# write_ctl FILE BOOT OP PREV: the control disk of the next boot.
write_ctl() {
	local f=$1
	head -c 1M /dev/zero >"$f"
	{
		echo "boot $2"; echo "op $3"; echo "prev $4"
		sed 's/^/point /' "$ST/points"
		sed 's/^/maybe /' "$ST/maybe"
		sed 's/^/slot /' "$ST/slots"
		[ -s "$ST/inflight" ] && sed 's/^/inflight /' "$ST/inflight"
	} | dd of="$f" conv=notrunc status=none
}

# absorb BOOT: what the boot reported: points, slots, tallies, TAP lines.
absorb() {
	local b=$1 kver=$2 cut=$3 line k h
	: >"$ST/maybe"
	while IFS= read -r line; do
		case $line in
		"power: point "*) echo "${line#power: point }" >>"$ST/points" ;;
		"power: removed "*) sed -i "/^${line#power: removed } /d" "$ST/points" ;;
		"power: maybe "*) echo "${line#power: maybe }" >>"$ST/maybe" ;;
		"power: writing "*) echo "${line#power: writing }" >"$ST/inflight" ;;
		"power: synced "*)
			read -r k h <<<"${line#power: synced }"
			sed -i "/^$k /d" "$ST/slots"; echo "$k $h" >>"$ST/slots"; : >"$ST/inflight" ;;
		"power: tally restore") RESTORES=$((RESTORES + 1)) ;;
		"power: tally synced") SYNCED=$((SYNCED + 1)) ;;
		"power: tally lost") LOST=$((LOST + 1)) ;;
		"power: tally wrong") WRONG=$((WRONG + 1)) ;;
		"power: tally verified "*) POINTS=$((POINTS + ${line#power: tally verified })) ;;
		"ok - "*) ok "$kver: ${line#ok - }" ;;
		"not ok - vm("*"wall-clock timeout"*|"not ok - vm("*"did not finish"*)
			[ "$cut" = 1 ] || not_ok "$kver: ${line#not ok - }" ;;
		"not ok - "*) not_ok "$kver: ${line#not ok - }" ;;
		"#   "*) echo "$line" ;;
		esac
	done < <(out_of "$b")
	# A point the backup printed before the cut could be printed twice
	# (by the cut boot and, as "the cut backup's point", by the next).
	sort -u -o "$ST/points" "$ST/points"
}

run_kernel() {
	local kver=$1 ops=() more n op prev cut t0
	for _ in $(seq "$ROUNDS"); do read -r -a more <<<"$OPS"; ops+=("${more[@]}"); done
	local c0=("$SCENARIOS" "$FAULTS" "$RESTORES" "$POINTS" "$SYNCED" "$LOST" "$WRONG" "$N" "$FAILED")
	ST=$BASE/$kver
	mkdir -p "$ST"
	: >"$ST/points"; : >"$ST/slots"; : >"$ST/maybe"; : >"$ST/inflight"
	truncate -s 128M "$ST/data.img" "$ST/sys.img" "$ST/restore.img"
	truncate -s 768M "$ST/vault.img"
	prev=none
	for n in $(seq 1 $((${#ops[@]} + 1))); do
		op=${ops[n - 1]:-none}
		write_ctl "$ST/ctl.img" "$n" "$op" "$prev"
		rm -f "$qpidf"
		t0=$(date +%s)
		CRYPTSNAP_VM_LOGS=$TOP/build/vm-logs/power-$kver/boot$n \
			"${VM_RUN[@]}" --job tests/faults/power-guest.sh --timeout 1200 \
			--pidfile "$qpidf" --initrd "$ST/initrd.zst" --tap-log "$BASE/tap$n" \
			--disk "$ST/data.img" --disk "$ST/vault.img" --disk "$ST/sys.img" \
			--disk "$ST/restore.img" --disk "$ST/ctl.img" "$kver" \
			>"$BASE/boot$n.out" 2>&1 &
		vpid=$!
		cut=0 CUT_AT=
		if [ "$op" != none ]; then
			SCENARIOS=$((SCENARIOS + 1))
			cut_when "$op" "$n" && cut=1
		fi
		wait "$vpid"
		absorb "$n" "$kver" "$cut"
		if [ "$op" = none ]; then
			if out_of "$n" | grep -qx 'power: done'; then
				ok "$kver: boot $n: last checks done, clean end"
			else
				not_ok "$kver: boot $n: the last boot did not finish"
			fi
		elif [ $cut = 1 ]; then
			ok "$kver: boot $n: power cut during $op ($CUT_AT), $(($(date +%s) - t0)) s"
		else
			not_ok "$kver: boot $n: no cut during $op (the guest ended first)"
			out_of "$n" | tail -n 15 | sed 's/^/#   /'
		fi
		prev=$op
	done
	echo "# power: $kver: $(wc -l <"$ST/points") points at the end"
	echo "# power cut ($kver): scenarios run $((SCENARIOS - c0[0])), faults injected $((FAULTS - c0[1])), restores compared byte-exact $((RESTORES - c0[2])), points verified $((POINTS - c0[3])), fsynced files checked $((SYNCED - c0[4])), data lost $((LOST - c0[5])), wrong restores $((WRONG - c0[6])), $((N - c0[7] - FAILED + c0[8])) passed, $((FAILED - c0[8])) failed"
}

for kver in "${KVERS[@]}"; do run_kernel "$kver"; done

echo "# power cut: scenarios run $SCENARIOS, faults injected $FAULTS, restores compared byte-exact $RESTORES, points verified $POINTS, fsynced files checked $SYNCED, data lost $LOST, wrong restores $WRONG"
echo "# power cut: $((N - FAILED)) passed, $FAILED failed"
[ $FAILED = 0 ] && [ $LOST = 0 ] && [ $WRONG = 0 ]
