#!/bin/bash
# Boot Debian's own kernel under qemu (TCG) with the cryptsnap initramfs
# and run one job in it:
#   vm-run.sh [--check|--demo|--bench|--job SCRIPT] [--only GLOB] [--env NAME=VALUE]...
#             [--timeout SEC] [--disk FILE]... [--pidfile FILE] [--initrd FILE] KVER
# --job SCRIPT runs SCRIPT (a path in this tree, e.g. tests/faults/power-guest.sh)
# as the guest's job instead of the test suite.  --disk FILE (repeatable)
# attaches host image files that persist, in order vda, vdb, ..., instead
# of the four blank disks, with cache=writethrough (CRYPTSNAP_DISK_CACHE):
# the guest sees a disk without a volatile write cache, so a write is
# complete only when it is in the host file and SIGKILL of QEMU (the power
# cut of tests/faults/power.sh) loses exactly the writes still in flight
# and the guest's own memory.  --pidfile FILE: QEMU's pid, for that kill.
# --initrd FILE: reuse an initramfs packed there before (packed if missing).
# --tap-log FILE: the guest's TAP port is written to FILE as it happens (a
# harness that waits for a marker reads it without tail's delay).
# Streams the guest's TAP/output to stdout.  Exit status is non-zero when
# the guest did not finish, or its kernel log shows an oops, BUG, WARNING,
# lockdep report or hung task, or (--check) any test failed.
# CRYPTSNAP_KROOT=DIR boots DIR/bzImage with modules from DIR/mods instead
# of /boot and /lib/modules (the debug-kernel lane, scripts/debug-kernel.sh).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
mode=check only='[0-9][0-9]-*' tmo=3600 envs= job= pidfile= initrd= taplog= pdisks=()
while [ $# -gt 1 ]; do
	case $1 in
	--check) mode=check ;;
	--demo) mode=demo ;;
	--bench) mode=bench ;;
	--job) mode=job job=$2; shift ;;
	--disk) pdisks+=("$2"); shift ;;
	--pidfile) pidfile=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--tap-log) taplog=$2; shift ;;
	--only) only=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--env) envs="$envs cryptsnap.env.${2// /,}"; shift ;;	# NAME=VALUE for the guest
	*) echo "vm-run: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
KVER=${1:?usage: vm-run.sh [--check|--demo|--bench] KVER}
VMLINUZ=${CRYPTSNAP_KROOT:+$CRYPTSNAP_KROOT/bzImage}
VMLINUZ=${VMLINUZ:-/boot/vmlinuz-$KVER}
[ -f "$VMLINUZ" ] || { echo "vm-run: $VMLINUZ missing (make deps)" >&2; exit 2; }

WORK=$(mktemp -d /var/tmp/cryptsnap-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# The benchmark compares against restic inside the guest.
[ $mode = bench ] && [ -x /usr/bin/restic ] &&
	export CRYPTSNAP_EXTRA_BINS="${CRYPTSNAP_EXTRA_BINS:-} /usr/bin/restic"
if [ -n "$initrd" ]; then
	[ -s "$initrd" ] || bash "$TOP/scripts/mkinitramfs.sh" "$KVER" "$initrd" || exit 2
else
	initrd=$WORK/initrd.zst
	bash "$TOP/scripts/mkinitramfs.sh" "$KVER" "$initrd" || exit 2
fi

# Blank disks, sparse, on the host: they cost guest RAM nothing.  The
# benchmark's data and COW disks are larger, so that a random-write run
# stays mostly first writes to chunks instead of copying a small disk
# whole in its first seconds.
# The benchmark keeps its disks in host RAM (/dev/shm) when there is room:
# on a host file system, the first write to each block of a sparse image
# costs the host an allocation and dirty-page throttling, and the run that
# first touches a region of the COW disk was measured up to 2x slower.
big=512M imgs=$WORK
if [ $mode = bench ]; then
	big=${CRYPTSNAP_BENCH_DISK:-4G}
	if [ "$(df --output=avail -B1G /dev/shm 2>/dev/null | tail -1)" -ge 10 ] 2>/dev/null; then
		imgs=$(mktemp -d /dev/shm/cryptsnap-bench.XXXXXX)
		trap 'rm -rf "$WORK" "$imgs"' EXIT
	fi
fi
disks=()
for spec in vda:$big vdb:$big vdc:256M vdd:64M; do
	[ ${#pdisks[@]} = 0 ] || break
	truncate -s "${spec#*:}" "$imgs/${spec%%:*}.img"
	disks+=(-drive "file=$imgs/${spec%%:*}.img,if=none,id=${spec%%:*},format=raw,cache=unsafe,discard=unmap"
		-device "virtio-blk-pci,drive=${spec%%:*}")
done
# vde: 64 MiB with 4096-byte logical blocks (a 4Kn disk; tests/func/67).
# Every disk is an explicit -device, in order: QEMU creates -device disks
# before if=virtio ones, which would make the 4Kn disk vda.
if [ ${#pdisks[@]} = 0 ]; then
	truncate -s 64M "$imgs/vde.img"
	disks+=(-drive "file=$imgs/vde.img,if=none,id=vde,format=raw,cache=unsafe"
		-device "virtio-blk-pci,drive=vde,logical_block_size=4096,physical_block_size=4096")
fi
for f in "${pdisks[@]}"; do
	[ -f "$f" ] || { echo "vm-run: disk image $f missing" >&2; exit 2; }
	disks+=(-drive "file=$f,if=none,id=p${#disks[@]},format=raw,cache=${CRYPTSNAP_DISK_CACHE:-writethrough}"
		-device "virtio-blk-pci,drive=p${#disks[@]}")
done
: >"$WORK/console.log"
: >"$WORK/out.log"
[ -n "$taplog" ] && ln -sf "$WORK/out.log" "$taplog"

# Single-threaded TCG by default: multi-threaded TCG intermittently oopses
# 6.12 at boot (int3 left behind by text_poke in sched_clock_cpu).
# No CMPXCHG16B in the guest CPU: Debian's QEMU 7.2 TCG corrupts RFLAGS
# after SLUB's `cmpxchg16b %gs:(%rsi)` (garbage flags with TF set, then a
# spurious #DB and a double fault); 6.12.95 cloud-amd64 dies that way
# within seconds of every boot, in kmem_cache_alloc from an initcall,
# before any module loads.  Without CX16 the kernel takes SLUB's locked
# path; nothing the tests look at depends on it.
started=$(date +%s)
timeout --foreground -k 10 "$tmo" qemu-system-x86_64 \
	-machine q35 -accel tcg,thread=${CRYPTSNAP_TCG_THREAD:-single} -cpu ${CRYPTSNAP_CPU:-max,-cx16} -smp ${CRYPTSNAP_SMP:-2} -m 3072 \
	-nodefaults -display none -no-reboot \
	-kernel "$VMLINUZ" -initrd "$initrd" ${pidfile:+-pidfile "$pidfile"} \
	-append "console=ttyS0 panic=-1 loglevel=${CRYPTSNAP_LOGLEVEL:-6} rdinit=/init cryptsnap.mode=$mode cryptsnap.only=$only${job:+ cryptsnap.job=$job}$envs" \
	-chardev file,id=con,path="$WORK/console.log" -device isa-serial,chardev=con \
	-chardev file,id=out,path="$WORK/out.log" -device isa-serial,chardev=out \
	"${disks[@]}" </dev/null &
qpid=$!
tail -n +1 -F --pid=$qpid "$WORK/out.log" 2>/dev/null &
tpid=$!
wait $qpid 2>/dev/null	# no "Killed" notice: --pidfile callers kill it
qrc=$?
wait $tpid 2>/dev/null

log_dir=${CRYPTSNAP_VM_LOGS:-$TOP/build/vm-logs}
mkdir -p "$log_dir"
cp "$WORK/console.log" "$log_dir/console-$mode-$KVER.log"
cp "$WORK/out.log" "$log_dir/out-$mode-$KVER.log"

rc=0
if [ -n "$pidfile" ] && [ $qrc = 137 ] && [ $(($(date +%s) - started)) -lt "$tmo" ]; then
	# --pidfile: the caller killed QEMU on purpose (a power cut).
	echo "# vm($KVER): QEMU killed from outside (power cut)"
elif [ $qrc = 124 ] || [ $qrc = 137 ]; then
	echo "not ok - vm($KVER): wall-clock timeout after ${tmo}s"
	rc=1
elif ! grep -q '^cryptsnap-vm: done' "$WORK/out.log"; then
	echo "not ok - vm($KVER): guest did not finish (qemu exit $qrc)"
	rc=1
fi
# The debug kernel's reports (docs/reliability.md) mostly start with "BUG:"
# or "WARNING:" (KASAN, sleep-in-atomic, lockdep's circular, recursive and
# inconsistent-lock-state reports, suspicious RCU usage); the rest are
# named here so that a changed prefix cannot hide them.
bad='Oops|BUG:|WARNING:|Kernel panic|blocked for more than|possible circular locking|INFO: task|general protection fault|KASAN|UBSAN|kmemleak'
bad="$bad|inconsistent lock state|possible recursive locking|suspicious RCU usage|sleeping function called from invalid context"
bad="$bad|turning off the locking correctness validator|DEBUG_LOCKS_WARN_ON|ODEBUG:|list_(add|del) corruption|refcount_t:"
if grep -Eq "$bad" "$WORK/console.log"; then
	echo "not ok - vm($KVER): kernel log shows a problem:"
	grep -E -A 12 "$bad" "$WORK/console.log" | head -n 60 | sed 's/^/#   /'
	rc=1
fi
if grep -q "^not ok" "$WORK/out.log"; then
	rc=1
fi
exit $rc
