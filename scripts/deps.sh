#!/bin/bash
# Install everything cryptsnap needs to build, test and benchmark, by
# Debian package name.  Idempotent; must run as root.  Adds
# bookworm-backports (for the 6.12 kernel) when it is missing.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "deps: must run as root" >&2; exit 1; }

BPO_LIST=/etc/apt/sources.list.d/cryptsnap-backports.list
PKGS=(
	build-essential make gcc pkg-config git kmod cpio zstd xz-utils
	linux-image-amd64 linux-headers-amd64
	linux-image-cloud-amd64 linux-headers-cloud-amd64
	qemu-system-x86 busybox-static dmsetup cryptsetup-bin dkms fio
	libdevmapper-dev libcryptsetup-dev libssl-dev libblkid-dev
	libjson-c-dev libcmocka-dev libinih-dev e2fsprogs util-linux
	groff-base man-db
	debootstrap
	restic borgbackup
	libcurl4-openssl-dev libxml2-dev swift swift-proxy swift-account swift-container swift-object memcached python3-swiftclient
	xfsprogs
	sqlite3
	clang libclang-rt-dev
)
BPO_PKGS=(linux-image-amd64 linux-headers-amd64 linux-image-cloud-amd64 linux-headers-cloud-amd64)

have_bpo() {
	grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q 'install ok installed' || echo "$p"
	done
}

need_update=0
if ! have_bpo; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" >"$BPO_LIST"
	need_update=1
fi

# The 6.12 kernels come from backports under the same package names as
# bookworm's 6.1, so "installed" is asked of the kernel tree itself: both
# flavours of the 6.12 series (scripts/kernels.sh names them explicitly).
bpo_kernel_installed() {
	local lanes
	lanes=$(bash "$(dirname "$0")/kernels.sh" all)
	grep -q '^6\.12\..*[0-9]-amd64$' <<<"$lanes" && grep -q '^6\.12\..*-cloud-amd64$' <<<"$lanes"
}

todo=$(missing "${PKGS[@]}")
if [ -n "$todo" ] || ! bpo_kernel_installed; then
	need_update=1
fi
[ "$need_update" = 0 ] && { echo "deps: all installed"; exit 0; }

export DEBIAN_FRONTEND=noninteractive
# Foreign sources on a closed network may fail to refresh; that is not ours
# to fix, the Debian ones are what matter.
apt-get update -q || true
if [ -n "$todo" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $todo
fi
if ! bpo_kernel_installed; then
	apt-get install -y -q --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
fi
echo "deps: done"
bash "$(dirname "$0")/kernels.sh" --report
