#!/bin/bash
# Host test of the manual and the bash completion: man/cryptsnap.8 renders
# without a warning (groff -ww, man -l), completion/cryptsnap.bash passes
# bash -n, and neither drifts from the tool: every command of
# `cryptsnap --help` and every option of every getopt table in
# userspace/cli/ is in the man page and offered by the completion.
# Prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MAN=$TOP/man/cryptsnap.8
COMP=$TOP/completion/cryptsnap.bash
CS=$TOP/userspace/cryptsnap
F=$(mktemp -d)
trap 'rm -rf "$F"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - docs: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - docs: $*"; }
[ -x "$CS" ] || make -s --no-print-directory -C "$TOP" tool >/dev/null 2>&1

if groff -ww -man -Tutf8 "$MAN" >"$F/groff.out" 2>"$F/groff.err" && [ ! -s "$F/groff.err" ]; then
	ok "groff -ww -man renders the man page without warnings"
else
	no "groff -ww -man: $(head -5 "$F/groff.err")"
fi
if command -v man >/dev/null; then
	if LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" >"$F/man.out" 2>"$F/man.err" &&
	   [ ! -s "$F/man.err" ] && grep -q 'EXIT STATUS' "$F/man.out"; then
		ok "man -l renders it without warnings"
	else
		no "man -l: $(head -5 "$F/man.err")"
	fi
else
	n=$((n + 1)); echo "ok $n - docs: man -l # SKIP man-db not installed (make deps)"
fi
bash -n "$COMP" 2>"$F/bashn.err" && ok "bash -n completion/cryptsnap.bash" ||
	no "bash -n: $(cat "$F/bashn.err")"

v=$("$CS" version)
grep -q "^\.TH CRYPTSNAP 8 [0-9-]* \"$v\"" "$MAN" && ok "man page is of $v" ||
	no "man page .TH is not of '$v': $(grep '^\.TH' "$MAN")"

# The page's text with roff escapes undone, for word searches.
sed 's/\\-/-/g; s/\\f[BIPR]//g' "$MAN" >"$F/man.txt"

# complete WORD...: what the completion offers after "cryptsnap WORD... <TAB>".
complete_at() {
	bash -c 'source "$1"; shift; COMP_WORDS=(cryptsnap "$@"); COMP_CWORD=$(($# ))
		_cryptsnap; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@" 2>/dev/null
}

cmds=$("$CS" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || no "no commands parsed from cryptsnap --help"
man_cmds=$(sed -n 's/^\.SS \([a-z][a-z-]*\).*/\1/p' "$MAN" | sort -u)
comp_cmds=$(complete_at "" | grep -v '^-' | sort -u)
want=$(sort -u <<<"$cmds")
[ "$man_cmds" = "$want" ] && ok "man page has one entry per command, no other" ||
	no "man page commands differ from --help: $(diff <(echo "$want") <(echo "$man_cmds") | grep '^[<>]' | tr '\n' ' ')"
[ "$comp_cmds" = "$want" ] && ok "completion offers every command, no other" ||
	no "completion commands differ from --help: $(diff <(echo "$want") <(echo "$comp_cmds") | grep '^[<>]' | tr '\n' ' ')"

# Per command: the options its --help names, in its man entry and offered
# by the completion (subcommands: vault init, retention, repair; key show, rotate,
# escrow; lock list, break; config check; policy apply).
subs() { case $1 in vault) echo init retention repair ;; key) echo show rotate escrow ;; lock) echo list break ;; config) echo check ;; policy) echo apply ;; *) echo "" ;; esac; }
for c in $cmds; do
	opts=$("$CS" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z-]*[a-z]' | grep -vx -- --help | sort -u)
	offered=""
	for s in $(subs "$c") ""; do
		[ -n "$s" ] || [ -z "$(subs "$c")" ] || continue
		offered="$offered $(complete_at "$c" ${s:+"$s"} --)"
	done
	entry=$(awk -v c="$c" '/^\.SS /{on = ($2 == c)} /^\.SH /{on = 0} on' "$F/man.txt")
	miss_man="" miss_comp=""
	for o in $opts; do
		grep -q -- "$o\b" <<<"$entry" || miss_man="$miss_man $o"
		grep -qw -- "$o" <<<"$(tr ' ' '\n' <<<"$offered")" || miss_comp="$miss_comp $o"
	done
	[ -z "$miss_man" ] && ok "man entry of '$c' names its --help options" ||
		no "man entry of '$c' lacks:$miss_man"
	[ -z "$miss_comp" ] && ok "completion of '$c' offers its --help options" ||
		no "completion of '$c' lacks:$miss_comp"
done

# Every long option of every getopt table in cli/ (some are not in --help).
all=$(cat "$TOP"/userspace/cli/*.c | sed -n 's/.*{ "\([a-z][a-z-]*\)", \(no\|required\|optional\)_argument.*/--\1/p' |
	grep -vx -- --help | sort -u)
miss_man="" miss_comp=""
for o in $all; do
	grep -q -- "$o\b" "$F/man.txt" || miss_man="$miss_man $o"
	grep -q -- "$o\b" "$COMP" || miss_comp="$miss_comp $o"
done
[ -n "$all" ] && [ -z "$miss_man" ] && ok "man page names all $(wc -w <<<"$all") getopt options" ||
	no "man page lacks getopt options:$miss_man"
[ -n "$all" ] && [ -z "$miss_comp" ] && ok "completion knows all getopt options" ||
	no "completion lacks getopt options:$miss_comp"
echo "1..$n"
exit $failed
