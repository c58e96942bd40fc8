# bash completion for cryptsnap(8).  Commands and options follow the
# command table (userspace/cli/main.c) and each command's getopt table;
# tests/build/docs.sh fails when they drift apart.
# shellcheck shell=bash

_cryptsnap_reply() {	# _cryptsnap_reply compgen-args...
	mapfile -t COMPREPLY < <(compgen "$@")
}

_cryptsnap_disks() {	# protected disks of this machine (their local state)
	local d=${CRYPTSNAP_STATE_DIR:-/var/lib/cryptsnap}/disks f names=()
	for f in "$d"/*.json; do
		[ -e "$f" ] || continue
		f=${f##*/}
		names+=("${f%.json}")
	done
	_cryptsnap_reply -W "${names[*]}" -- "$1"
}

_cryptsnap_mappings() {	# open device-mapper devices, for protect
	local f names=()
	for f in /dev/mapper/*; do
		[ "${f##*/}" = control ] || names+=("${f##*/}")
	done
	_cryptsnap_reply -W "${names[*]}" -- "$1"
}

_cryptsnap() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="version vault protect unprotect status boot shutdown backup points restore mount umount verify prune undelete key jobs lock config policy"
	local cmd=${COMP_WORDS[1]:-} sub=${COMP_WORDS[2]:-} opts="" pos=""

	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		_cryptsnap_reply -W "$cmds --help" -- "$cur"
		return
	fi
	# The argument of an option.
	case $prev in
	--vault | --cow-dir | --key-dir | --escrow-dir | --root | --unit-dir)
		compopt -o filenames 2>/dev/null
		_cryptsnap_reply -d -- "$cur"
		return ;;
	--kek | --old-kek | --key-file | --pre-freeze | --post-thaw | --source | --to | --config)
		compopt -o filenames 2>/dev/null
		_cryptsnap_reply -f -- "$cur"
		return ;;
	--disk | --name)
		_cryptsnap_disks "$cur"
		return ;;
	--retain-until | --now | --point | --threads | --cow-size | --chunk-size | --rate-limit | \
	--keep-last | --keep-daily | --keep-weekly | --keep-monthly | --keep-yearly | \
	--escrow | --escrow-secret | --deleted-grace)
		return ;;
	esac
	case $cmd in
	version) opts="--hardening" ;;
	vault)
		[ "$COMP_CWORD" -eq 2 ] && { _cryptsnap_reply -W "init retention repair" -- "$cur"; return; }
		case $sub in
		init) opts="--kek --key-dir --chunk-size --deleted-grace --lock-retention" pos=dir ;;
		retention) opts="--vault --kek --deleted-grace --lock" ;;
		repair) opts="--vault --kek" ;;
		esac ;;
	protect)
		opts="--vault --key-file --name --kek --cow-dir --cow-size --chunk-size --pre-freeze --post-thaw"
		pos=mapping ;;
	unprotect) opts="--key-file" pos=disk ;;
	status) opts="--json" pos=disk ;;
	boot | shutdown) pos=disk ;;
	backup)
		opts="--retain-until --full --cow-size --kek --json --vault --source --disk --escrow --escrow-secret --threads --rate-limit"
		pos=disk ;;
	points) opts="--vault --disk --kek --json --deleted" ;;
	undelete) opts="--vault --kek" ;;
	restore) opts="--vault --point --to --force --check-key --kek --escrow-dir --threads --files" ;;
	mount) opts="--vault --point --key-file --kek --block-only" pos=dir ;;
	umount) pos=dir ;;
	verify) opts="--vault --point --kek --json" ;;
	prune)
		opts="--vault --kek --disk --keep-last --keep-daily --keep-weekly --keep-monthly --keep-yearly --dry-run --no-gc --now" ;;
	key)
		[ "$COMP_CWORD" -eq 2 ] && { _cryptsnap_reply -W "show rotate escrow" -- "$cur"; return; }
		case $sub in
		show) opts="--vault --kek --json" ;;
		rotate) opts="--vault --kek --old-kek" ;;
		escrow) opts="--key-file --kek" pos=disk ;;
		esac ;;
	jobs) opts="--vault --json --follow" ;;
	lock)
		[ "$COMP_CWORD" -eq 2 ] && { _cryptsnap_reply -W "list break" -- "$cur"; return; }
		case $sub in
		list) opts="--vault --json" ;;
		break) opts="--vault" ;;
		esac ;;
	config)
		[ "$COMP_CWORD" -eq 2 ] && { _cryptsnap_reply -W "check" -- "$cur"; return; }
		opts="--config" ;;
	policy)
		[ "$COMP_CWORD" -eq 2 ] && { _cryptsnap_reply -W "apply" -- "$cur"; return; }
		opts="--root --unit-dir --config" ;;
	*) return ;;
	esac
	if [[ $cur == -* ]]; then
		_cryptsnap_reply -W "$opts --help" -- "$cur"
		return
	fi
	case $pos in
	disk) _cryptsnap_disks "$cur" ;;
	mapping) _cryptsnap_mappings "$cur" ;;
	dir) compopt -o filenames 2>/dev/null; _cryptsnap_reply -d -- "$cur" ;;
	esac
}
complete -F _cryptsnap cryptsnap
