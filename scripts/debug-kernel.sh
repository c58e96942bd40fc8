#!/bin/bash
# The debug-kernel lane's kernel (docs/reliability.md): Debian's own 6.1
# source package built with a small guest config plus lockdep, KASAN and
# sleep-in-atomic checks, cached outside the clone.
#   debug-kernel.sh deps    install the lane's packages (root, by name)
#   debug-kernel.sh build   build the kernel unless the cache has it; prints
#                           its cache directory (KROOT) as the last line
#   debug-kernel.sh path    print KROOT if built, fail otherwise
# KROOT = $CRYPTSNAP_DEBUG_CACHE/<source version>-<config hash>/ holds
#   bzImage          the kernel to boot
#   build/           the object tree: KDIR for `make -C KDIR M=...`
#   mods/            modules_install root (lib/modules/<release>/...)
#   kernelrelease    the release string (uname -r in the guest)
#   config, config.log, build.log, done
# The source is unpacked once per source version, in src-<version>/.  A
# rebuild happens only when the source package version, the config
# fragment (scripts/debug-kernel.config) or this recipe changes.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CRYPTSNAP_DEBUG_CACHE:-/var/cache/cryptsnap/debug-kernel}
SRCPKG=${CRYPTSNAP_DEBUG_SRCPKG:-linux-source-6.1}
FRAG=$TOP/scripts/debug-kernel.config
# Bump when the recipe below changes in a way that changes the kernel.
RECIPE="ARCH=x86_64 tinyconfig kvm_guest.config debug-kernel.config v3"
PKGS=("$SRCPKG" flex bison bc libelf-dev libssl-dev make gcc xz-utils)

log() { echo "debug-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

deps() {
	local p todo=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			todo+=("$p")
	done
	[ ${#todo[@]} = 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing ${todo[*]}; run as root to install them"
	log "installing ${todo[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || true
	apt-get install -y -q --no-install-recommends "${todo[@]}" >&2
}

srcver() { dpkg-query -W -f='${Version}' "$SRCPKG"; }
cfghash() { { echo "$RECIPE"; cat "$FRAG"; } | sha256sum | cut -c1-12; }
kroot() { echo "$CACHE/$(srcver)-$(cfghash)"; }

# Every CONFIG_X=y / CONFIG_X="..." line of the fragment must be in the
# final .config, and every "is not set" line must not be =y or =m.
verify_config() {
	local cfg=$1 line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$cfg" || { log "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$cfg" || echo unset)"; bad=1; } ;;
		'# CONFIG_'*' is not set')
			sym=${line#\# }; sym=${sym%% *}
			! grep -qE "^$sym=[ym]" "$cfg" || { log "config: wanted $sym off, got $(grep -E "^$sym=" "$cfg")"; bad=1; } ;;
		esac
	done <"$FRAG"
	[ $bad = 0 ] || die "the config fragment did not apply (see above): fix scripts/debug-kernel.config"
}

build() {
	local ver src kr obj rel t0
	deps
	ver=$(srcver)
	[ -n "$ver" ] || die "$SRCPKG not installed"
	kr=$(kroot)
	if [ -f "$kr/done" ]; then
		log "cached: $kr"
		echo "$kr"
		return 0
	fi
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	if [ -f "$kr/done" ]; then echo "$kr"; return 0; fi

	src=$CACHE/src-$ver
	if [ ! -f "$src/.unpacked" ]; then
		log "unpacking $SRCPKG $ver into $src"
		rm -rf "$src"
		mkdir -p "$src"
		tar -xf "/usr/src/$SRCPKG.tar.xz" -C "$src" --strip-components=1
		touch "$src/.unpacked"
	fi
	obj=$kr/build
	t0=$(date +%s)
	# An interrupted build resumes: the entry's name fixes source, recipe
	# and fragment, and config is written only once they were verified.
	if [ -f "$kr/config" ] && cmp -s "$kr/config" "$obj/.config"; then
		log "resuming the interrupted build in $obj"
	else
		rm -rf "$kr"
		mkdir -p "$obj"
		log "configuring in $obj"
		# ARCH=x86_64: a plain tinyconfig on x86 is 32-bit, and turning 64BIT
		# on afterwards keeps 32-bit defaults (FRAME_WARN=1024, 5-level paging).
		make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig >"$kr/config.log" 2>&1 ||
			die "tinyconfig failed: $kr/config.log"
		local kvm=$src/kernel/configs/kvm_guest.config
		[ -f "$kvm" ] || kvm=$src/arch/x86/configs/kvm_guest.config
		(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "$kvm" "$FRAG" >>"$kr/config.log" 2>&1) ||
			die "merge_config failed: $kr/config.log"
		make -s -C "$src" O="$obj" olddefconfig >>"$kr/config.log" 2>&1 ||
			die "olddefconfig failed: $kr/config.log"
		verify_config "$obj/.config"
		cp "$obj/.config" "$kr/config"
	fi
	log "building (nice -n 19, -j${CRYPTSNAP_DEBUG_JOBS:-2}); log in $kr/build.log"
	if ! nice -n 19 make -C "$src" O="$obj" -j"${CRYPTSNAP_DEBUG_JOBS:-2}" bzImage modules >>"$kr/build.log" 2>&1; then
		tail -n 30 "$kr/build.log" >&2
		die "kernel build failed"
	fi
	make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$kr/mods" modules_install >>"$kr/build.log" 2>&1 ||
		die "modules_install failed"
	rel=$(make -s -C "$src" O="$obj" kernelrelease)
	echo "$rel" >"$kr/kernelrelease"
	cp "$obj/arch/x86/boot/bzImage" "$kr/bzImage"
	echo "built $rel from $SRCPKG $ver in $(( $(date +%s) - t0 ))s" | tee "$kr/done" >&2
	echo "$kr"
}

case ${1:-} in
deps) deps ;;
build) build ;;
path)
	kr=$(kroot)
	[ -f "$kr/done" ] || die "not built yet: $kr (run: make check-debug)"
	echo "$kr" ;;
*) echo "usage: debug-kernel.sh deps|build|path" >&2; exit 2 ;;
esac
