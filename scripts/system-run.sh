#!/bin/bash
# `make check-system` (issue 14): a real Debian 12 system under QEMU (TCG),
# not the test initramfs.  The root file system comes from
# scripts/system-image.sh (debootstrap, cached outside the clone); it boots
# its own Debian 6.1 kernel and initrd with systemd as init, and a oneshot
# unit in it runs tests/system/run.sh from a disk labelled CSTEST that
# carries this tree (with the tool built on the host, so `make install`
# only installs it and builds the module with DKMS in the guest).
#   system-run.sh [--timeout SEC]
# Boots: one QEMU for boot 1 and, after the guest's `systemctl reboot`,
# boot 2, which ends by asking for a hard reset ("cryptsnap-system: reset"
# on its TAP port): QEMU is killed (SIGKILL).  A second QEMU on the same
# disks boots 3, which powers off.  Streams the guest's TAP; exits non-zero
# when a step failed, the guest did not finish, or a kernel log shows an
# oops, BUG, WARNING or hung task.  Logs: build/system-logs/.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
tmo=5400
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) tmo=$2; shift ;;
	*) echo "system-run: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$TOP/userspace/cryptsnap" ] || { echo "system-run: build the tool first (make tool)" >&2; exit 2; }
IMG=$(bash "$TOP/scripts/system-image.sh" | tail -n 1) && [ -f "$IMG/root.img" ] ||
	{ echo "not ok - system: the Debian 12 root image could not be built"; exit 1; }
echo "# system: image $IMG (kernel $(cat "$IMG/kver"))"

WORK=$(mktemp -d /var/tmp/cryptsnap-system.XXXXXX)
qpid=
cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The disks: a copy of the root image (it keeps state across the boots),
# the data disk and a restore target of the same size, and the tree.
cp --sparse=always "$IMG/root.img" "$WORK/root.img"
truncate -s 256M "$WORK/data.img" "$WORK/restore.img"
mkdir -p "$WORK/cstest/src"
# Built objects come along with their times, so make sees them current.
tar -C "$TOP" --exclude=./.git --exclude=./build --exclude='./bench/results*' -cf - . |
	tar -C "$WORK/cstest/src" -xpf -
cp "$TOP/tests/system/run.sh" "$WORK/cstest/run.sh"
truncate -s 1G "$WORK/cstest.img"
mkfs.ext4 -q -F -L CSTEST -d "$WORK/cstest" "$WORK/cstest.img" ||
	{ echo "not ok - system: cannot make the test disk"; exit 1; }

deadline=$(($(date +%s) + tmo))

# boot N [-no-reboot]: one QEMU run; the TAP port goes to out-N.log.
boot() {
	local n=$1; shift
	: >"$WORK/console-$n.log"
	: >"$WORK/out-$n.log"
	qemu-system-x86_64 \
		-machine q35 -accel tcg,thread=single -cpu max,-cx16 -smp 2 -m 2048 \
		-nodefaults -display none "$@" \
		-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 panic=-1 loglevel=4" \
		-chardev file,id=con,path="$WORK/console-$n.log" -device isa-serial,chardev=con \
		-chardev file,id=out,path="$WORK/out-$n.log" -device isa-serial,chardev=out \
		-drive file="$WORK/root.img",if=virtio,format=raw \
		-drive file="$WORK/data.img",if=virtio,format=raw \
		-drive file="$WORK/restore.img",if=virtio,format=raw \
		-drive file="$WORK/cstest.img",if=virtio,format=raw \
		</dev/null &
	qpid=$!
	tail -n +1 -F --pid=$qpid "$WORK/out-$n.log" 2>/dev/null | sed -u 's/\r$//' &
}

# wait_qemu [MARKER]: until QEMU exits, or MARKER is on the TAP port
# (then QEMU is killed: the hard reset), or the deadline (rc 124).
wait_qemu() {
	local marker=${1:-} n=$2
	while kill -0 "$qpid" 2>/dev/null; do
		if [ -n "$marker" ] && grep -q "$marker" "$WORK/out-$n.log"; then
			kill -9 "$qpid"
			wait "$qpid" 2>/dev/null
			qpid=
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill -9 "$qpid"
			wait "$qpid" 2>/dev/null
			qpid=
			return 124
		fi
		sleep 2
	done
	wait "$qpid"
	qpid=
	return 0
}

rc=0
boot 1
wait_qemu 'cryptsnap-system: reset' 1 || rc=$?
sleep 1
if [ $rc = 0 ] && grep -q 'cryptsnap-system: reset' "$WORK/out-1.log"; then
	echo "# system: QEMU killed (hard reset); booting again"
	boot 2 -no-reboot
	wait_qemu '' 2 || rc=$?
	sleep 1
fi

log_dir=${CRYPTSNAP_SYSTEM_LOGS:-$TOP/build/system-logs}
mkdir -p "$log_dir"
cp "$WORK"/console-*.log "$WORK"/out-*.log "$log_dir/"

res=0
out=$(cat "$WORK"/out-*.log | tr -d '\r')
if [ $rc = 124 ]; then
	echo "not ok - system: wall-clock timeout after ${tmo}s"
	res=1
elif ! grep -q '^cryptsnap-system: done' <<<"$out"; then
	echo "not ok - system: the guest did not finish all three boots"
	res=1
fi
bad='Oops|BUG:|WARNING:|Kernel panic|blocked for more than|general protection fault|INFO: task'
if grep -Eq "$bad" "$WORK"/console-*.log; then
	echo "not ok - system: a kernel log shows a problem:"
	grep -E -h -A 12 "$bad" "$WORK"/console-*.log | head -n 60 | sed 's/^/#   /'
	res=1
fi
grep -q '^not ok' <<<"$out" && res=1
echo "# system: $(grep -c '^ok' <<<"$out") ok, $(grep -c '^not ok' <<<"$out") not ok"
exit $res
