#!/bin/bash
# Prove dkms.conf works: copy the tree into a scratch DKMS tree and run
# `dkms add` + `dkms build` for each kernel given.  Prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
SRC=$SCRATCH/src/cryptsnap-$VER
mkdir -p "$SRC" "$SCRATCH/tree"
(cd "$TOP" && cp -a Kbuild dkms.conf kmod include "$SRC/")
D=(dkms --dkmstree "$SCRATCH/tree" --sourcetree "$SCRATCH/src")
rc=0
if "${D[@]}" add -m cryptsnap -v "$VER" >"$SCRATCH/add.log" 2>&1; then
	echo "ok - dkms add"
else
	echo "not ok - dkms add"; sed 's/^/#   /' "$SCRATCH/add.log"; exit 1
fi
for k in "$@"; do
	if "${D[@]}" build -m cryptsnap -v "$VER" -k "$k" >"$SCRATCH/build.log" 2>&1 &&
	   ls "$SCRATCH"/tree/cryptsnap/"$VER"/"$k"/x86_64/module/dm-cryptsnap.ko* >/dev/null 2>&1; then
		if grep -qi warning "$SCRATCH"/tree/cryptsnap/"$VER"/build/make.log 2>/dev/null; then
			echo "not ok - dkms build for $k has warnings"; rc=1
		else
			echo "ok - dkms build for $k"
		fi
	else
		echo "not ok - dkms build for $k"; rc=1
		sed 's/^/#   /' "$SCRATCH/build.log" | tail -n 30
		tail -n 30 "$SCRATCH"/tree/cryptsnap/"$VER"/build/make.log 2>/dev/null | sed 's/^/#   /'
	fi
done
exit $rc
