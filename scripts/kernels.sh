#!/bin/bash
# The supported kernels, named by series and flavour, never by sort order
# across flavours:
#   kernels.sh LANE        prints the kernel releases of a lane, one line
#   kernels.sh --report    says what is installed and what each lane tests
# Lanes:
#   generic  Debian 12's 6.1 and bookworm-backports' 6.12, flavour amd64
#   cloud    the same series, flavour cloud-amd64 (Debian's cloud images)
#   all      generic then cloud
#   demo     the first kernel of the generic lane
# A kernel counts as installed when its headers (to build the module) and
# its vmlinuz and modules (to boot the test VM) are all there.  Within one
# series and flavour the newest ABI wins (version sort of the ABI number
# only, e.g. 6.1.0-57 over 6.1.0-9).  A missing kernel is left out and
# --report says so; callers decide whether an empty lane is an error.
# KERNELS_ROOT (default /) lets tests point this at a fake tree.
set -uo pipefail

ROOT=${KERNELS_ROOT:-}
SERIES=(6.1 6.12)

# Releases of one series and flavour, e.g. 6.1 amd64 -> 6.1.0-57-amd64;
# 6.12 cloud-amd64 -> 6.12.95+deb12-cloud-amd64.
candidates() {
	local series=$1 flavour=$2 d rel rest
	for d in "$ROOT"/usr/src/linux-headers-"$series".*-"$flavour"; do
		[ -d "$d" ] || continue
		rel=${d##*/linux-headers-}
		rest=${rel#"$series".}
		# The flavour must be exactly this one: "-amd64" must not match
		# "-cloud-amd64" or "-rt-amd64".
		case ${rest%-"$flavour"} in *-*-*|*[!0-9.+a-z-]*) continue ;; esac
		case ${rest%-"$flavour"} in *cloud*|*rt*) continue ;; esac
		echo "$rel"
	done
}

installed() {
	local rel=$1
	[ -d "$ROOT/usr/src/linux-headers-$rel" ] && [ -f "$ROOT/boot/vmlinuz-$rel" ] &&
		[ -d "$ROOT/lib/modules/$rel/kernel" ]
}

pick() {
	local series=$1 flavour=$2 rel best=
	for rel in $(candidates "$series" "$flavour" | sort -V); do
		installed "$rel" && best=$rel
	done
	[ -n "$best" ] && echo "$best"
}

lane() {
	local flavour=$1 s
	for s in "${SERIES[@]}"; do pick "$s" "$flavour"; done
}

report() {
	local flavour s rel
	for flavour in amd64 cloud-amd64; do
		for s in "${SERIES[@]}"; do
			rel=$(pick "$s" "$flavour")
			printf '# kernel %-5s %-12s %s\n' "$s" "$flavour" "${rel:-MISSING (make deps)}"
		done
	done
	echo "# lane generic tests: $(lane amd64 | tr '\n' ' ')"
	echo "# lane cloud tests:   $(lane cloud-amd64 | tr '\n' ' ')"
}

case ${1:-} in
generic) lane amd64 ;;
cloud) lane cloud-amd64 ;;
all) lane amd64; lane cloud-amd64 ;;
demo) lane amd64 | head -n 1 ;;
--report) report ;;
*) echo "usage: kernels.sh generic|cloud|all|demo|--report" >&2; exit 2 ;;
esac
exit 0
