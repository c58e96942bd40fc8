#!/bin/bash
# `make install` / `make uninstall`: scripts/install.sh install|uninstall.
#
# Environment (the Makefile passes them): DESTDIR (staging root, empty for
# a real install), PREFIX (default /usr/local), SYSCONFDIR (default /etc).
# One file list (files() below) drives both directions, so uninstall
# removes exactly what install put.  With DESTDIR empty, install also
# registers the module source with DKMS (add, build, install for the
# running kernel; AUTOINSTALL in dkms.conf rebuilds it for each new
# kernel), loads it and reloads systemd; uninstall undoes those.  With
# DESTDIR set, nothing outside DESTDIR is touched: no dkms, no systemctl.
#
# Never installed over and never removed: an admin's changed config
# (/etc/cryptsnap/cryptsnap.conf differing from the shipped default) and
# /var/lib/cryptsnap (keys, disk state).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SBINDIR=$PREFIX/sbin
UNITDIR=$PREFIX/lib/systemd/system
MODLOADDIR=$PREFIX/lib/modules-load.d
MANDIR=$PREFIX/share/man
COMPDIR=$PREFIX/share/bash-completion/completions
PKG=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' dkms.conf)
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
# dkms finds a module's source only at /usr/src/<PACKAGE_NAME>-<PACKAGE_VERSION>.
SRCDIR=/usr/src/$PKG-$VER
[ -n "$PKG" ] && [ -n "$VER" ] || { echo "cryptsnap: no PACKAGE_NAME/VERSION in dkms.conf" >&2; exit 1; }
CONF=$SYSCONFDIR/cryptsnap/cryptsnap.conf

say() { echo "cryptsnap $ACTION: $*"; }

# MODE SOURCE DESTINATION [subst|config], one file a line.
files() {
	local f
	echo "0755 userspace/cryptsnap $SBINDIR/cryptsnap"
	for f in Kbuild dkms.conf kmod/*.[ch] include/*.h; do
		echo "0644 $f $SRCDIR/$f"
	done
	echo "0644 man/cryptsnap.8 $MANDIR/man8/cryptsnap.8"
	echo "0644 completion/cryptsnap.bash $COMPDIR/cryptsnap"
	echo "0644 etc/modules-load.conf $MODLOADDIR/cryptsnap.conf"
	echo "0644 systemd/cryptsnap-backup@.service $UNITDIR/cryptsnap-backup@.service subst"
	echo "0644 systemd/cryptsnap-backup@.timer $UNITDIR/cryptsnap-backup@.timer"
	echo "0644 systemd/cryptsnap-protect@.service $UNITDIR/cryptsnap-protect@.service subst"
	echo "0644 etc/cryptsnap.conf $CONF config"
}

put() {	# put MODE SRC DST [subst|config]
	local mode=$1 src=$2 dst=$DESTDIR$3 how=${4:-}
	install -d -m 0755 "$(dirname "$dst")"
	if [ "$how" = config ] && [ -e "$dst" ]; then
		cmp -s "$src" "$dst" || say "kept $3 (yours; the default is $TOP/$src)"
		return 0
	fi
	if [ "$how" = subst ]; then
		sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" "$src" >"$dst.tmp"
		install -m "$mode" "$dst.tmp" "$dst"
		rm -f "$dst.tmp"
	else
		install -m "$mode" "$src" "$dst"
	fi
}

drop() {	# drop MODE SRC DST [subst|config]
	local src=$2 dst=$DESTDIR$3 how=${4:-}
	[ -e "$dst" ] || [ -L "$dst" ] || return 0
	if [ "$how" = config ] && ! cmp -s "$src" "$dst"; then
		say "kept $3 (changed by you)"
		return 0
	fi
	rm -f "$dst"
}

real() { [ -z "$DESTDIR" ]; }
have_systemd() { real && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }
dkms_registered() { [ -n "$(dkms status -m "$PKG" -v "$VER" 2>/dev/null)" ]; }
# Every version of the module DKMS knows ("cryptsnap/1.0.0, 6.1.0-57-amd64,
# x86_64: installed" or "cryptsnap/1.0.0: added").
dkms_versions() { dkms status -m "$PKG" 2>/dev/null | sed -n "s|^$PKG/\([^,:]*\)[,:].*|\1|p" | sort -u; }

dkms_install() {
	local k r=0
	k=$(uname -r)
	if ! command -v dkms >/dev/null; then
		say "dkms not found: the module source is in $SRCDIR;" \
			"apt-get install dkms linux-headers-$k, then dkms install $PKG/$VER"
		return 0
	fi
	# A reinstall or an upgrade registers the new source alone: every
	# version DKMS knows is removed first (their modules too).
	for v in $(dkms_versions); do
		dkms remove -m "$PKG" -v "$v" --all
	done
	dkms add -m "$PKG" -v "$VER"
	dkms build -m "$PKG" -v "$VER" -k "$k" || r=$?
	if [ $r = 77 ]; then
		say "kernel $k is outside dkms.conf's BUILD_EXCLUSIVE_KERNEL (6.1, 6.12): module not built"
		return 0
	elif [ $r != 0 ]; then
		say "dkms build failed for $k (are linux-headers-$k installed?)" >&2
		return 1
	fi
	dkms install -m "$PKG" -v "$VER" -k "$k"
	modprobe dm-cryptsnap || {
		say "modprobe dm-cryptsnap failed; with Secure Boot on, enroll DKMS's key" \
			"(README, \"Secure Boot\")" >&2
		return 1
	}
}

dkms_uninstall() {
	command -v dkms >/dev/null && dkms_registered || return 0
	dkms remove -m "$PKG" -v "$VER" --all
	# The module stays loaded while disks are stacked on it; a reboot drops it.
	lsmod 2>/dev/null | grep -q '^dm_cryptsnap ' &&
		say "dm-cryptsnap stays loaded until reboot (rmmod it when no disk uses it)"
	return 0
}

# Enabled timer instances would point at removed units: stop them first.
disable_timers() {
	local l
	for l in /etc/systemd/system/*.wants/cryptsnap-backup@?*.timer; do
		[ -L "$l" ] && systemctl disable --now "$(basename "$l")" || true
	done
}

do_install() {
	[ -x userspace/cryptsnap ] || { echo "cryptsnap install: run 'make tool' first" >&2; exit 1; }
	# The module source is replaced, never merged with an older one.
	rm -rf "$DESTDIR$SRCDIR"
	while read -r line; do
		# shellcheck disable=SC2086
		put $line
	done < <(files)
	real || { say "DESTDIR set: dkms and systemctl steps skipped"; return 0; }
	dkms_install
	have_systemd && systemctl daemon-reload
	say "done; schedule a disk with: systemctl enable --now cryptsnap-backup@DISK.timer"
}

# `cryptsnap policy apply` writes one OnCalendar= drop-in per scheduled disk
# (userspace/sys/units.c); without the timer unit it is litter.
drop_policy() {
	local f
	for f in "$DESTDIR$SYSCONFDIR"/systemd/system/cryptsnap-backup@?*.timer.d/cryptsnap-policy.conf; do
		[ -e "$f" ] || continue
		rm -f "$f"
		rmdir "$(dirname "$f")" 2>/dev/null || true
	done
	# ... and a Persistent= stamp per timer (systemd's record of its last run).
	rm -f "$DESTDIR"/var/lib/systemd/timers/stamp-cryptsnap-backup@?*.timer
}

do_uninstall() {
	if real; then
		have_systemd && disable_timers
		dkms_uninstall
		ls /var/lib/cryptsnap/disks/*.json >/dev/null 2>&1 &&
			say "disks are still protected here (cryptsnap status); their state in /var/lib/cryptsnap is kept"
	else
		say "DESTDIR set: dkms and systemctl steps skipped"
	fi
	while read -r line; do
		# shellcheck disable=SC2086
		drop $line
	done < <(files)
	drop_policy
	# Directories that are ours alone; shared ones (sbin, man8) stay.
	rm -rf "$DESTDIR$SRCDIR"
	rmdir "$DESTDIR$SYSCONFDIR/cryptsnap" 2>/dev/null || true
	have_systemd && systemctl daemon-reload
	return 0
}

ACTION=${1:-}
case $ACTION in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: $0 install|uninstall (DESTDIR, PREFIX, SYSCONFDIR from the environment)" >&2; exit 2 ;;
esac
