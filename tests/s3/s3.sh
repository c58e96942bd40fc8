#!/bin/bash
# S3-specific tests of the S3 backend against the Swift fixture (issue 17):
# leases between writers, kill -9 mid-put, injected 503s and stalls, the
# proxy killed mid-backup, an object server killed mid-backup, a replica's
# objects deleted, wrong credentials and a missing bucket.  TAP; needs the
# settings tests/s3/swift-up.sh prints in the environment (tests/s3/run.sh).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
SOBJ="python3 $TOP/tests/s3/sobj.py"
: "${S3_DIR:?run through tests/s3/run.sh}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-s3.XXXXXX")
RUN=s3t-$(date +%s)-$$
export CRYPTSNAP_KEY_DIR=$WORK/keys CRYPTSNAP_STATE_DIR=$WORK/state
: >"$WORK/cryptsnap.conf" && chmod 600 "$WORK/cryptsnap.conf" && export CRYPTSNAP_CONFIG=$WORK/cryptsnap.conf
FP=
cleanup() {
	[ -n "$FP" ] && kill "$FP" 2>/dev/null
	$SOBJ rmprefix "$RUN/" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
cp "$CS" "$WORK/cryptsnap" && CS=$WORK/cryptsnap || exit 1

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() {
	local d=$1; shift
	if "$@" >"$WORK/out.log" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$WORK/out.log"; fi
}
check_fails() {
	local d=$1 want=$2 rc; shift 2
	"$@" >"$WORK/out.log" 2>&1; rc=$?
	cp "$WORK/out.log" "$WORK/last.log"
	if [ "$rc" = "$want" ]; then ok "$d"; else not_ok "$d (rc $rc, want $want)"; sed 's/^/# /' "$WORK/out.log"; fi
}
last_point() { "$CS" points --vault "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'; }
mutate() {
	python3 - "$1" <<'PY'
import os, random, sys
n = os.path.getsize(sys.argv[1]) // 65536
with open(sys.argv[1], "r+b") as f:
    for c in random.sample(range(n), max(1, n // 50)):
        f.seek(c * 65536); f.write(os.urandom(65536))
PY
}
restart_proxy() {
	setsid swift-proxy-server "$S3_DIR/proxy.conf" >>"$S3_DIR/log/proxy.log" 2>&1 &
	echo $! >"$S3_DIR/run/proxy.pid"
	for _ in $(seq 1 150); do
		curl -sf -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
			"$AWS_ENDPOINT_URL/auth/v1.0" && return 0
		sleep 0.2
	done
	return 1
}
restart_object() {	# restart_object 1|2|3
	setsid swift-object-server "$S3_DIR/object$1.conf" >>"$S3_DIR/log/object$1.log" 2>&1 &
	echo $! >"$S3_DIR/run/object$1.pid"
}

V=s3://$S3_BUCKET/$RUN/v
# S3_QUICK (make check): round trips, leases, an object server killed,
# soft delete, clear errors; without it (make check-s3) everything.
QUICK=${S3_QUICK:-}
head -c 96M /dev/urandom >img	# the lease test needs a backup that lasts
check "vault init on S3" "$CS" vault init "$V"
check "full backup" "$CS" backup --vault "$V" --source img --disk d
P1=$(last_point "$V")
cp img img1

# --- leases --------------------------------------------------------------
now=$(date +%s)
printf '{"time":%d,"expires":%d}' $now $((now + 3600)) | $SOBJ put "$RUN/v/locks/far.example_7_00000000000000aa.exclusive"
check_fails "a live foreign lease blocks a backup (exit 6)" 6 "$CS" backup --vault "$V" --source img --disk d
check "the refusal names the holder" grep -q "far.example" "$WORK/last.log"
$SOBJ rm "$RUN/v/locks/far.example_7_00000000000000aa.exclusive"
printf '{"time":%d,"expires":%d}' $((now - 7200)) $((now - 3600)) | $SOBJ put "$RUN/v/locks/far.example_8_00000000000000bb.exclusive"
check "an expired foreign lease is taken over" "$CS" backup --vault "$V" --source img --disk d
check "the expired lease object is gone" bash -c "! $SOBJ ls '$RUN/v/locks/' | grep -q far.example"
# A prune while a backup holds its (shared) lease: the backup goes through
# a proxy that stalls every 2nd request for 1 s, so it is still running
# when the prune starts.  Prune marks points under a shared lease of its
# own; its GC needs the exclusive lease, so it is deferred (exit 0) with
# the holder named, and nothing is deleted under the running backup.
python3 "$TOP/tests/s3/faultproxy.py" "$SWIFT_PROXY_PORT" --every-stall 2 --stall 1 >fp.port &
FP=$!
for _ in $(seq 1 100); do [ -s fp.port ] && break; sleep 0.05; done
mutate img
AWS_ENDPOINT_URL="http://127.0.0.1:$(cat fp.port)" "$CS" backup --vault "$V" --source img --disk d >bg.log 2>&1 &
bg=$!
for _ in $(seq 1 200); do $SOBJ ls "$RUN/v/locks/" | grep -q . && break; sleep 0.05; done
check_fails "second writer (prune) while a backup holds its lease: exit 0" 0 "$CS" prune --vault "$V" --keep-last 100
check "its GC is deferred, naming the running backup's lease" \
	grep -q "garbage collection deferred: another job holds the vault (host .* shared lock" "$WORK/last.log"
wait $bg
check "the first writer finished" test $? = 0
kill $FP; wait $FP 2>/dev/null; FP=; rm -f fp.port

# --- mount's block source on S3 (issue 16) ---------------------------------
# The point_reader unit test (whole and random reads, read-ahead counts,
# several threads) on an S3 vault: what `cryptsnap mount` serves from S3.
# NBD is not on this host; tests/func/58-mount.sh mounts local vaults.
make -s -C "$TOP/tests/unit" test_point_reader >/dev/null 2>&1
check "point reads (mount's block source) on the S3 backend" \
	env CS_TEST_VAULT="s3://$S3_BUCKET/$RUN/pr" "$TOP/tests/unit/test_point_reader"

if [ -z "$QUICK" ]; then
# --- kill -9 mid-put ------------------------------------------------------
for delay in 0.3 1.0; do
	mutate img
	"$CS" backup --vault "$V" --source img --disk d >/dev/null 2>&1 &
	pid=$!; sleep "$delay"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	check "after kill -9 at ${delay}s mid-put: verify passes" "$CS" verify --vault "$V"
done
$SOBJ rmprefix "$RUN/v/locks/"	# a killed writer's lease; it would expire

# --- injected 503s and stalls --------------------------------------------
python3 "$TOP/tests/s3/faultproxy.py" "$SWIFT_PROXY_PORT" --every-503 3 --count faults503 >fp.port &
FP=$!
for _ in $(seq 1 100); do [ -s fp.port ] && break; sleep 0.05; done
mutate img
check "backup through a proxy failing every 3rd request with 503" \
	env AWS_ENDPOINT_URL="http://127.0.0.1:$(cat fp.port)" "$CS" backup --vault "$V" --source img --disk d
P2=$(last_point "$V")
check "restore through the 503 proxy" \
	env AWS_ENDPOINT_URL="http://127.0.0.1:$(cat fp.port)" "$CS" restore --vault "$V" --point "$P2" --to r2
check "restore byte-exact" cmp img r2
check "503s were injected ($(cat faults503 2>/dev/null || echo 0))" test "$(cat faults503 2>/dev/null || echo 0)" -gt 5
kill $FP; wait $FP 2>/dev/null; FP=; rm -f r2 fp.port
python3 "$TOP/tests/s3/faultproxy.py" "$SWIFT_PROXY_PORT" --every-stall 7 --stall 2 --count stalls >fp.port &
FP=$!
for _ in $(seq 1 100); do [ -s fp.port ] && break; sleep 0.05; done
check "verify through a proxy stalling every 7th request for 2 s" \
	env AWS_ENDPOINT_URL="http://127.0.0.1:$(cat fp.port)" "$CS" verify --vault "$V"
kill $FP; wait $FP 2>/dev/null; FP=; rm -f fp.port

# --- proxy killed mid-backup, then a retry ---------------------------------
mutate img
"$CS" backup --vault "$V" --source img --disk d >pk.log 2>&1 &
pid=$!
sleep 0.5
kill -9 -- "-$(cat "$S3_DIR/run/proxy.pid")"	# the server and its workers
wait $pid; rc=$?
check "backup with the proxy killed completes or fails cleanly (rc $rc)" \
	bash -c "[ $rc = 0 ] || [ \$(wc -l <pk.log) -le 2 ]"
check "proxy restarted" restart_proxy
$SOBJ rmprefix "$RUN/v/locks/"
check "backup retried after the restart" "$CS" backup --vault "$V" --source img --disk d
check "verify after the proxy kill" "$CS" verify --vault "$V"
P3=$(last_point "$V")
check "restore after the proxy kill" "$CS" restore --vault "$V" --point "$P3" --to r3
check "restore byte-exact" cmp img r3
rm -f r3
else
# --- round trip, incremental --------------------------------------------
mutate img
check "incremental backup" "$CS" backup --vault "$V" --source img --disk d
P3=$(last_point "$V")
check "restore the incremental" "$CS" restore --vault "$V" --point "$P3" --to r3
check "restore byte-exact" cmp img r3
rm -f r3
fi

# --- an object server killed mid-backup; a replica's objects deleted ------
mutate img
"$CS" backup --vault "$V" --source img --disk d >ok.log 2>&1 &
pid=$!
sleep 0.5
kill -9 -- "-$(cat "$S3_DIR/run/object2.pid")"
wait $pid; rc=$?
check "backup with object server 2 killed completes or fails cleanly (rc $rc)" \
	bash -c "[ $rc = 0 ] || [ \$(wc -l <ok.log) -le 2 ]"
$SOBJ rmprefix "$RUN/v/locks/"
check "backup with one object server down" "$CS" backup --vault "$V" --source img --disk d
P4=$(last_point "$V")
check "verify with one object server down" "$CS" verify --vault "$V"
restart_object 2
rm -rf "$S3_DIR"/obj1/*/objects
check "restore with node 1's objects deleted" "$CS" restore --vault "$V" --point "$P4" --to r4
check "restore byte-exact" cmp img r4
check "old point 1 restores too" "$CS" restore --vault "$V" --point "$P1" --to r1
check "verify with node 1's objects deleted" "$CS" verify --vault "$V"
rm -f r1 r4

# --- soft delete, undelete, retention lock ---------------------------------
check "prune deletes all but the newest point" "$CS" prune --vault "$V" --keep-last 1
check "points --deleted lists point 1" bash -c "'$CS' points --vault '$V' --deleted | grep -q '^$P1 '"
check "points no longer lists point 1" bash -c "! '$CS' points --vault '$V' | grep -q '^$P1 '"
check "undelete point 1" "$CS" undelete "$P1" --vault "$V"
check "undeleted point 1 restores byte-exact" \
	bash -c "'$CS' restore --vault '$V' --point '$P1' --to r1 >/dev/null && cmp img1 r1"
check "vault retention --lock" "$CS" vault retention --vault "$V" --lock
check_fails "locked: a shorter grace period is refused (exit 1)" 1 \
	"$CS" vault retention --vault "$V" --deleted-grace 1
check "prune after 15 days purges the deleted points" \
	"$CS" prune --vault "$V" --keep-last 1 --now "@$(( $(date +%s) + 15 * 86400 ))"
check "nothing is left deleted" bash -c "'$CS' points --vault '$V' --deleted >pd.out 2>&1; cat pd.out; [ \$(wc -l <pd.out) = 1 ]"
check "the kept point restores byte-exact" \
	bash -c "'$CS' restore --vault '$V' --point '$P4' --to r4 >/dev/null && cmp img r4"
rm -f r1 r4 img1

# --- clear errors ------------------------------------------------------------
check_fails "wrong secret: exit 1" 1 env AWS_SECRET_ACCESS_KEY=wrong "$CS" points --vault "$V"
check "wrong secret: one line" test "$(wc -l <"$WORK/last.log")" = 1
check "wrong secret: names the S3 error code" grep -q "Permission denied (S3 SignatureDoesNotMatch (HTTP 403))" "$WORK/last.log"
check_fails "missing bucket: exit 3" 3 "$CS" points --vault "s3://no-such-bucket/x"
check "missing bucket: one line" test "$(wc -l <"$WORK/last.log")" = 1
check "missing bucket: names NoSuchBucket" grep -q "S3 NoSuchBucket (HTTP 404)" "$WORK/last.log"
check_fails "no credentials: exit 4" 4 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_SHARED_CREDENTIALS_FILE=/nonexistent "$CS" points --vault "$V"
check "no credentials: says how to give them" grep -q "no S3 credentials: set AWS_ACCESS_KEY_ID" "$WORK/last.log"
printf '[other]\naws_access_key_id = x\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >creds && chmod 600 creds
check "credentials from a credentials file profile" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_SHARED_CREDENTIALS_FILE="$WORK/creds" "$CS" points --vault "$V"
printf '[defaults]\ns3-endpoint = %s\ns3-region = us-east-1\ns3-access-key-id = %s\ns3-secret-access-key = %s\n' \
	"$AWS_ENDPOINT_URL" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >s3.conf && chmod 600 s3.conf
check "settings from the configuration file's [defaults]" env -u AWS_ENDPOINT_URL -u AWS_ACCESS_KEY_ID \
	-u AWS_SECRET_ACCESS_KEY CRYPTSNAP_CONFIG="$WORK/s3.conf" "$CS" points --vault "$V"
check_fails "a bad s3:// location: exit 2" 2 "$CS" points --vault "s3://A/x"

echo "1..$N"
[ "$FAILED" = 0 ] || { echo "# $FAILED failed"; exit 1; }
