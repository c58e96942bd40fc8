#!/bin/bash
# Host tests of `cryptsnap config check` over the files in tests/cli/config/:
# each bad-*.conf names the errors it must produce ("# expect LINE: message",
# all of them, in order) and must exit 2; good.conf and the shipped
# etc/cryptsnap.conf must pass.  Also: --config over $CRYPTSNAP_CONFIG, a
# missing named file (exit 3), a group-writable file.  Prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - config: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - config: $*"; }
# Private copies, 0600: a checkout's modes depend on the umask.
cp "$TOP"/tests/cli/config/*.conf "$TOP/etc/cryptsnap.conf" "$W/"
chmod 600 "$W"/*.conf

for f in "$W"/bad-*.conf; do
	b=${f##*/}
	want=$(sed -n "s|^# expect \([0-9]*\): |$f:\1: |p" "$f")
	got=$("$CS" config check --config "$f" 2>&1 >/dev/null | grep -v '^cryptsnap config: ')
	"$CS" config check --config "$f" >/dev/null 2>&1
	rc=$?
	if [ "$got" = "$want" ] && [ $rc = 2 ]; then
		ok "$b: every error with its line, exit 2"
	else
		no "$b: exit $rc, errors differ:"
		diff <(echo "$want") <(echo "$got") | sed 's/^/#   /'
	fi
done
for f in "$W/good.conf" "$W/cryptsnap.conf"; do
	out=$("$CS" config check --config "$f" 2>&1)
	[ $? = 0 ] && [[ $out == "$f: ok "* ]] && ok "${f##*/} passes" || no "${f##*/}: $out"
done
out=$(CRYPTSNAP_CONFIG=$W/bad-values.conf "$CS" config check 2>&1)
[ $? = 2 ] && [[ $out == *"bad-values.conf:14: "* ]] && ok "CRYPTSNAP_CONFIG names the file" ||
	no "CRYPTSNAP_CONFIG ignored: $out"
out=$(CRYPTSNAP_CONFIG=$W/bad-values.conf "$CS" config check --config "$W/good.conf" 2>&1)
[ $? = 0 ] && ok "--config overrides CRYPTSNAP_CONFIG" || no "--config did not override: $out"
out=$("$CS" config check --config "$W/absent.conf" 2>&1)
[ $? = 3 ] && [[ $out == *"absent.conf: cannot open: No such file"* ]] &&
	ok "a named file that is missing: exit 3" || no "missing file: $out"
out=$(CRYPTSNAP_CONFIG=$W/absent.conf "$CS" config check 2>&1)
[ $? = 3 ] && ok "CRYPTSNAP_CONFIG naming a missing file: exit 3" || no "missing env file: $out"
chmod 620 "$W/good.conf"
out=$("$CS" config check --config "$W/good.conf" 2>&1)
[ $? = 2 ] && [[ $out == *"good.conf: writable by group or others"* ]] &&
	ok "a group-writable file is refused" || no "group-writable: $out"
"$CS" config check --bogus >/dev/null 2>&1
[ $? = 2 ] && ok "bad option: exit 2" || no "bad option accepted"

# The commands that read it: scan-mode backup and prune take --vault and
# --kek from it, prune each disk's keep-* unless --keep-* is given, and
# protect refuses to guess a vault.
export CRYPTSNAP_KEY_DIR=$W/keys CRYPTSNAP_STATE_DIR=$W/state
cd "$W" || exit 1
head -c 1M /dev/urandom >img
printf '[defaults]\nvault = %s/v\nkeep-last = 1\n[disk "d2"]\nkeep-last = 2\n' "$W" >use.conf
chmod 600 use.conf
export CRYPTSNAP_CONFIG=$W/use.conf
"$CS" vault init "$W/v" >/dev/null 2>&1 || no "vault init"
for d in d1 d1 d1 d2 d2; do
	"$CS" backup --source img --disk $d >/dev/null 2>"$W/err" || { no "backup $d: $(cat "$W/err")"; break; }
done
[ "$("$CS" points --vault "$W/v" --json | grep -c '"id"')" = 5 ] &&
	ok "backup --source without --vault uses the configured vault" || no "points not in the configured vault"
out=$("$CS" prune --dry-run 2>&1)
[ "$(grep -c '^would remove .* d1$' <<<"$out")" = 2 ] && ! grep -q '^would remove .* d2$' <<<"$out" &&
	[[ $out == "rules from $W/use.conf"* ]] &&
	ok "prune: vault and each disk's keep-* from the file" || no "prune with config: $out"
out=$("$CS" prune --dry-run --keep-last 3 2>&1)
! grep -q '^would remove' <<<"$out" && ! grep -q '^rules from' <<<"$out" &&
	ok "prune: --keep-* replaces the file's rules" || no "prune --keep-last 3: $out"
printf '[defaults]\nvault = %s/v\n' "$W" >use.conf
out=$("$CS" prune --dry-run 2>&1)
! grep -q '^would remove' <<<"$out" && ! grep -q '^rules from' <<<"$out" &&
	ok "prune: a disk without rules loses no point" ||
	no "prune without rules: $out"
printf '[defaults]\nbogus = 1\n' >use.conf
out=$("$CS" prune --dry-run 2>&1)
[ $? = 2 ] && [[ $out == *"use.conf:2: unknown key 'bogus'"* ]] &&
	ok "a command reading a broken file stops with its errors, exit 2" || no "broken file: $out"
printf '[defaults]\n' >use.conf
out=$("$CS" protect somedisk --key-file /dev/null 2>&1)
[ $? = 2 ] && [[ $out == *"no vault: give --vault or set vault in $W/use.conf"* ]] &&
	ok "protect without a vault anywhere: exit 2, says where to set it" || no "protect: $out"
printf '[defaults]\ns3-access-key-id = a\ns3-secret-access-key = b\n' >use.conf
chmod 644 use.conf
out=$("$CS" config check 2>&1)
[ $? = 2 ] && [[ $out == *"holds s3-secret-access-key but is readable by group or others"* ]] &&
	ok "a file holding an S3 secret must not be readable by others" || no "secret in a 0644 file: $out"
chmod 600 use.conf
echo "1..$n"
exit $failed
