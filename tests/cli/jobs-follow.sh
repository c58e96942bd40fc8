#!/bin/bash
# Host test of `cryptsnap jobs --follow [ID]`: a `backup --source` of an
# image file slowed by --rate-limit so its job is seen running; --follow
# prints its progress until it ends and exits with its result: 0 and the
# point when done, the backup's own exit status when it failed (the image
# cut short under it), 1 when its process was killed; a clear error for
# an unknown or malformed id and when nothing runs.  About 12 s.  TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$W"' EXIT
# A private copy: a concurrent `make tool` must not swap it mid-run.
cp "${CRYPTSNAP:-$TOP/userspace/cryptsnap}" "$W/cryptsnap" || exit 1
CS=$W/cryptsnap
export CRYPTSNAP_KEY_DIR=$W/keys CRYPTSNAP_STATE_DIR=$W/state CRYPTSNAP_SYSLOG=0
: >"$W/empty.conf" && chmod 600 "$W/empty.conf" && export CRYPTSNAP_CONFIG=$W/empty.conf
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - jobs --follow: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - jobs --follow: $*"; }
V=$W/vault

# The id of the newest running job, waiting up to 10 s for one.
running_id() {
	local i id
	for i in $(seq 100); do
		id=$("$CS" jobs --vault "$V" --json | python3 -c '
import json, sys
r = [j["id"] for j in json.load(sys.stdin) if j["state"] == "running"]
print(r[-1] if r else "")')
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

"$CS" vault init "$V" >/dev/null 2>&1 || { echo "not ok 1 - vault init"; exit 1; }
head -c $((32 << 20)) /dev/urandom >"$W/img"

# 1. Done: 32 MiB at 8 MiB/s (the record is rewritten every 2 s), followed
# without an id.  Batches are up to 8 MiB, so the image is four of them
# and a record written mid-run has bytes done whatever the host's load
# (with one 8 MiB batch a loaded host could show only "0 B" then "done").
"$CS" backup --vault "$V" --source "$W/img" --disk a --rate-limit 8M >"$W/b1.out" 2>&1 &
b=$!
pids+=("$b")
running_id >/dev/null || no "no running job seen"
"$CS" jobs --vault "$V" --follow >"$W/f1.out" 2>&1
rc=$?
wait "$b"
brc=$?
point=$(sed -n 's/^point //p' "$W/b1.out")
[ $rc = 0 ] && [ $brc = 0 ] && ok "a finished backup: exit 0" || no "exit $rc (backup $brc): $(cat "$W/f1.out")"
[ "$(grep -c ': running, ' "$W/f1.out")" -ge 2 ] && grep -q 'running, [1-9].* / 32.0 MiB (' "$W/f1.out" &&
	ok "progress lines while it runs" || no "progress: $(cat "$W/f1.out")"
last=$(tail -1 "$W/f1.out")
[[ $last == *" backup a: done, 32.0 MiB in "*", point $point" ]] && [ -n "$point" ] &&
	ok "last line: done with the backup's point" || no "last line '$last', point '$point'"
out=$("$CS" jobs --vault "$V" --follow "${last%% *}")
[ $? = 0 ] && [ "$out" = "$last" ] && ok "a job already done: one line, exit 0" || no "done job: $out"

# 2. Failed: the image is cut short under the backup; --follow exits as it
# did.  The engine reads batches of up to 8 MiB, and the limit sleeps
# between them: 24 MiB at 4 MiB/s reads at 0, 2 and 4 s.
head -c $((24 << 20)) /dev/urandom >"$W/img2"
"$CS" backup --vault "$V" --source "$W/img2" --disk b --rate-limit 4M >"$W/b2.out" 2>&1 &
b=$!
pids+=("$b")
id=$(running_id)
"$CS" jobs --vault "$V" --follow "$id" >"$W/f2.out" 2>&1 &
f=$!
pids+=("$f")
sleep 1
truncate -s 1M "$W/img2"
wait "$b"
brc=$?
wait "$f"
rc=$?
last=$(tail -1 "$W/f2.out")
[ $brc != 0 ] && [ $rc = $brc ] && ok "a failed backup: the same exit status ($rc)" ||
	no "backup exit $brc, follow exit $rc: $(cat "$W/f2.out")"
[[ $last == "$id backup b: failed: "*"(exit status $brc)" ]] && ok "last line: failed with the reason" ||
	no "last line: $last"

# 3. Interrupted: the backup's process is killed.
"$CS" backup --vault "$V" --source "$W/img" --disk c --rate-limit 1M >/dev/null 2>&1 &
b=$!
pids+=("$b")
id=$(running_id)
"$CS" jobs --vault "$V" --follow "$id" >"$W/f3.out" 2>&1 &
f=$!
pids+=("$f")
sleep 0.5
{ kill -9 "$b"; wait "$b"; } 2>/dev/null
wait "$f"
rc=$?
[ $rc = 1 ] && [[ $(tail -1 "$W/f3.out") == "$id backup c: interrupted (its process is gone)"* ]] &&
	ok "a killed backup: interrupted, exit 1" || no "killed: exit $rc: $(cat "$W/f3.out")"

# 4. Errors: one line each.
one() { [ $1 = $2 ] && [ "$(wc -l <"$W/err")" = 1 ] && grep -q "$3" "$W/err"; }
"$CS" jobs --vault "$V" --follow 20200101T000000Z-0123abcd >/dev/null 2>"$W/err"
one $? 3 "no job 20200101T000000Z-0123abcd" && ok "an unknown id: exit 3" || no "unknown id: $(cat "$W/err")"
"$CS" jobs --vault "$V" --follow ../../etc/passwd >/dev/null 2>"$W/err"
one $? 2 "not a job id" && ok "a malformed id: exit 2" || no "malformed id: $(cat "$W/err")"
"$CS" jobs --vault "$V" --follow >/dev/null 2>"$W/err"
one $? 3 "no running job" && ok "nothing running: exit 3" || no "nothing running: $(cat "$W/err")"
"$CS" jobs --vault "$V" extra >/dev/null 2>&1
[ $? = 2 ] && ok "an id without --follow: exit 2" || no "an id without --follow accepted"

# --vault from the configuration's [defaults].
printf '[defaults]\nvault = %s\n' "$V" >"$W/v.conf" && chmod 600 "$W/v.conf"
out=$(CRYPTSNAP_CONFIG=$W/v.conf "$CS" jobs --follow "${last%% *}" 2>&1)
[ $? = $brc ] && [ "$out" = "$last" ] && ok "the vault of the configuration" || no "config vault: $out"

echo "1..$n"
exit $failed
