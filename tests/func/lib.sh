# Sourced by every functional test (runs inside the test VM, bash).
# Prints TAP lines; the guest runner numbers nothing itself: the host
# harness counts "ok"/"not ok" lines on the TAP console.
#
# Guest environment: blank virtio disks /dev/vda (512M) /dev/vdb (512M)
# /dev/vdc (256M) /dev/vdd (64M) /dev/vde (64M, 4096-byte logical
# blocks); dm-cryptsnap.ko loaded; tools on PATH:
# dmsetup cryptsetup fio mkfs.ext4 e2fsck blockdev losetup cmp sha256sum
# dd cryptsnap.  /tmp is tmpfs (guest RAM).  Scripts run one after another
# in one boot: each removes the dm devices it creates (t_cleanup_add) and
# assumes nothing about disk content.

set -u
T_NAME=${T_NAME:-$(basename "$0" .sh)}
T_FAILED=0
T_CLEANUP=()

# Fast key derivation under emulation.
LUKS_FAST=(--batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000)

t_ok()   { echo "ok - $T_NAME: $*"; }
t_fail() { echo "not ok - $T_NAME: $*"; T_FAILED=1; }
t_skip() { echo "ok - $T_NAME: $* # SKIP"; }
t_diag() { echo "# $*"; }

# jget KEY FILE: the value of "KEY" in the one-line JSON a command printed
# (--json output), quotes stripped.
jget() { sed -n "s/.*\"$1\": *\"*\([^\",]*\).*/\1/p" "$2"; }

# t_check "description" cmd args...: one TAP line from a command's status.
t_check() {
	local desc=$1; shift
	local out
	if out=$("$@" 2>&1); then
		t_ok "$desc"
	else
		t_fail "$desc"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

# t_refuse "description" cmd args...: the command must fail.
t_refuse() {
	local desc=$1; shift
	if "$@" >/dev/null 2>&1; then
		t_fail "$desc (was accepted)"
	else
		t_ok "$desc"
	fi
}

t_cleanup_add() { T_CLEANUP=("$*" "${T_CLEANUP[@]}"); }
t_cleanup() {
	local c
	for c in "${T_CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
	T_CLEANUP=()
}
# /tmp/.t-failed tells the guest runner (tests/vm/init) to show more of
# a failing test's stderr.
trap 't_cleanup; [ "$T_FAILED" = 0 ] || : >/tmp/.t-failed' EXIT

# Zero the first and last MiB of a disk so stale signatures never leak
# between tests.
t_wipe() {
	local dev=$1 sz
	sz=$(blockdev --getsz "$dev")
	dd if=/dev/zero of="$dev" bs=1M count=1 conv=fsync status=none
	dd if=/dev/zero of="$dev" bs=512 seek=$((sz - 2048)) count=2048 conv=fsync status=none
}

# Private tool state for one test: exports CRYPTSNAP_STATE_DIR and
# CRYPTSNAP_KEY_DIR under /tmp/<tag>.*, sets VAULT and KEY (a 0600 key file
# holding the passphrase given) and starts from nothing.
t_tool_env() {
	local tag=$1 pass=$2
	VAULT=/tmp/$tag.vault KEY=/tmp/$tag.key
	export CRYPTSNAP_STATE_DIR=/tmp/$tag.state CRYPTSNAP_KEY_DIR=/tmp/$tag.keys
	rm -rf "$VAULT" "$CRYPTSNAP_STATE_DIR" "$CRYPTSNAP_KEY_DIR"
	printf '%s' "$pass" >"$KEY"
	chmod 600 "$KEY"
}

# Sectors of a block device.
t_sectors() { blockdev --getsz "$1"; }
