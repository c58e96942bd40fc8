#!/bin/bash
# Include-layer check for userspace/ (docs/architecture.md, "Who may
# include whom").  Layers, lowest first:
#
#   lib  <  store, sys  <  vault  <  cli
#
# A file may include headers of its own folder and of the layers below it;
# store and sys do not include each other.  include/ (the kernel UAPI
# header) is open to all.  Each library has one user:
#
#   libdevmapper   sys/dm.c         libcryptsetup  sys/luks.c
#   libblkid       sys/blkdev.c     OpenSSL        lib/crypto.c
#   libinih        lib/config.c
#   libcurl        store/s3.c       libxml2        store/s3_xml.c
#
# Prints one line per violation, "file: includes X", then TAP
# "ok - include layers" or "not ok - include layers"; exits 1 on any
# violation.  -q: print nothing when all is well (the Makefile runs it so).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
US=$TOP/userspace
quiet=0
[ "${1:-}" = -q ] && quiet=1

declare -A may=(
	[lib]="lib"
	[store]="lib store"
	[sys]="lib sys"
	[vault]="lib store sys vault"
	[cli]="lib store sys vault cli"
)
declare -A owner=(
	[libdevmapper.h]=sys/dm.c
	[libcryptsetup.h]=sys/luks.c
	[blkid/blkid.h]=sys/blkdev.c
	[openssl/]=lib/crypto.c
	[ini.h]=lib/config.c
	[curl/]=store/s3.c
	[libxml/]=store/s3_xml.c
)

bad=0
violation() {
	echo "$1: includes $2"
	bad=1
}

# Which userspace folder (or "include") a quoted include of file f names.
layer_of() {
	local f=$1 inc=$2 dir p
	dir=$(dirname "$f")
	for p in "$US/$dir/$inc" "$US/$inc" "$TOP/include/$inc"; do
		[ -e "$p" ] || continue
		p=$(realpath "$p")
		case $p in
		"$TOP"/include/*) echo include ;;
		"$US"/*/*) p=${p#"$US"/}; echo "${p%%/*}" ;;
		*) echo outside ;;
		esac
		return
	done
	echo missing
}

cd "$US" || exit 1
for f in $(ls -d {lib,store,sys,vault,cli}/*.[ch] 2>/dev/null); do
	me=${f%%/*}
	while read -r inc; do
		l=$(layer_of "$f" "$inc")
		case " ${may[$me]} include " in
		*" $l "*) ;;
		*) violation "userspace/$f" "\"$inc\" ($l)" ;;
		esac
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	while read -r inc; do
		for key in "${!owner[@]}"; do
			case $inc in
			"$key"*) [ "$f" = "${owner[$key]}" ] ||
					violation "userspace/$f" "<$inc> (only userspace/${owner[$key]} may)" ;;
			esac
		done
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f")
done
# Folders the check does not know are a layer nobody placed.
for d in */; do
	d=${d%/}
	[ -n "${may[$d]:-}" ] || violation "userspace/$d" "(a folder outside the layers)"
done

if [ $bad = 0 ]; then
	[ $quiet = 1 ] || echo "ok - include layers"
	exit 0
fi
echo "not ok - include layers"
exit 1
