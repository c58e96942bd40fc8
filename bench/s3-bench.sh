#!/bin/bash
# Issue 17 throughput, side by side in one run against one private Swift
# (tests/s3/swift-up.sh, three object servers, 3 replicas, loopback):
# an image of SIZE_MB (half random, half zero; default 1024) is
#   raw PUT     one PUT of the whole image through Swift's own API (the
#               plain transfer ceiling of this store)
#   dd          dd of the image to a local file (the disk's ceiling)
#   cryptsnap   full backup, 1% incremental, restore: to S3 and to a
#               local vault
#   restic      the same three into the same Swift (when installed):
#               through restic's Swift backend, because restic 0.14's S3
#               client (minio-go) sends aws-chunked uploads over plain
#               HTTP, which Swift's s3api refuses ("Transfering payloads
#               in multiple chunks using aws-chunked is not supported")
# Prints seconds and MiB/s (of the non-zero data for full backups) and the
# ratios.  Holds /tmp/cryptsnap-quiet-i17-s3 while timing.
# Usage: bench/s3-bench.sh [SIZE_MB]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
CS=$TOP/userspace/cryptsnap
SIZE_MB=${1:-1024}
W=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-s3bench.XXXXXX")
D=$W/swift
QUIET=/tmp/cryptsnap-quiet-i17-s3
trap 'rm -f "$QUIET"; bash "$TOP/tests/s3/swift-down.sh" "$D"; rm -rf "$W"' EXIT
say() { echo "# s3-bench: $*"; }
[ -x "$CS" ] || { say "build first: make tool"; exit 1; }
bash "$TOP/tests/s3/swift-up.sh" "$D" >/dev/null || exit 1
set -a; . "$D/env"; set +a
export CRYPTSNAP_KEY_DIR=$W/keys CRYPTSNAP_STATE_DIR=$W/state RESTIC_PASSWORD=bench
: >"$W/c.conf"; chmod 600 "$W/c.conf"; export CRYPTSNAP_CONFIG=$W/c.conf
cd "$W" || exit 1

head -c $((SIZE_MB / 2))M /dev/urandom >img
truncate -s ${SIZE_MB}M img
NZ=$((SIZE_MB / 2))
mutate() {
	python3 - "$1" <<'PY'
import os, random, sys
n = os.path.getsize(sys.argv[1]) // 65536
random.seed(17)
with open(sys.argv[1], "r+b") as f:
    for c in random.sample(range(n), max(1, n // 100)):
        f.seek(c * 65536); f.write(os.urandom(65536))
PY
}
t() {	# t VAR command...: wall seconds into VAR
	local v=$1 s e; shift
	s=$(date +%s.%N)
	"$@" >/dev/null 2>"$W/err" || { say "failed: $*"; sed 's/^/#   /' "$W/err"; }
	e=$(date +%s.%N)
	printf -v "$v" '%.2f' "$(echo "$e - $s" | bc)"
}
rate() { echo "scale=1; $1 / $2" | bc; }
last() { "$CS" points --vault "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'; }
tok=$(curl -s -D - -o /dev/null -H "X-Auth-User: $AWS_ACCESS_KEY_ID" -H "X-Auth-Key: $AWS_SECRET_ACCESS_KEY" \
	"$AWS_ENDPOINT_URL/auth/v1.0" | tr -d '\r' | sed -n 's/^X-Auth-Token: //Ip')
"$CS" vault init s3://vaults/cs >/dev/null && "$CS" vault init "$W/local" >/dev/null || exit 1
have_restic=0
export ST_AUTH=$AWS_ENDPOINT_URL/auth/v1.0 ST_USER=$AWS_ACCESS_KEY_ID ST_KEY=$AWS_SECRET_ACCESS_KEY
RR=swift:vaults:/restic
command -v restic >/dev/null && restic -r $RR init >/dev/null 2>&1 && have_restic=1

touch "$QUIET"
t raw curl -sf -X PUT -T img -H "X-Auth-Token: $tok" "$AWS_ENDPOINT_URL/v1/AUTH_test/vaults/raw.img"
t dd dd if=img of=dd.img bs=4M conv=fsync status=none
rm -f dd.img
t cs_full "$CS" backup --vault s3://vaults/cs --source img --disk d
t lo_full "$CS" backup --vault "$W/local" --source img --disk d
[ $have_restic = 1 ] && t rs_full restic -r $RR backup --stdin --stdin-filename img <img
cp img img0
mutate img
t cs_inc "$CS" backup --vault s3://vaults/cs --source img --disk d
t lo_inc "$CS" backup --vault "$W/local" --source img --disk d
[ $have_restic = 1 ] && t rs_inc restic -r $RR backup --stdin --stdin-filename img <img
t cs_rest "$CS" restore --vault s3://vaults/cs --point "$(last s3://vaults/cs)" --to r1
cmp -s img r1 || say "S3 restore differs!"
rm -f r1
t lo_rest "$CS" restore --vault "$W/local" --point "$(last "$W/local")" --to r2
rm -f r2
[ $have_restic = 1 ] && t rs_rest restic -r $RR restore latest --target rr
rm -f "$QUIET"

say "image ${SIZE_MB} MiB (${NZ} MiB random, rest zero), Swift 3 replicas on loopback, $(nproc) CPUs"
printf '# %-28s %8s %10s\n' "step" "seconds" "MiB/s"
row() { printf '# %-28s %8s %10s\n' "$1" "$2" "$(rate "$3" "$2")"; }
row "raw PUT of the image (Swift)" "$raw" $SIZE_MB
row "dd to a local file" "$dd" $SIZE_MB
row "cryptsnap full -> S3" "$cs_full" $NZ
row "cryptsnap full -> local" "$lo_full" $NZ
row "cryptsnap 1% incr -> S3" "$cs_inc" $SIZE_MB
row "cryptsnap 1% incr -> local" "$lo_inc" $SIZE_MB
row "cryptsnap restore <- S3" "$cs_rest" $SIZE_MB
row "cryptsnap restore <- local" "$lo_rest" $SIZE_MB
if [ $have_restic = 1 ]; then
	row "restic full -> Swift" "$rs_full" $NZ
	row "restic 1% incr -> Swift" "$rs_inc" $SIZE_MB
	row "restic restore <- Swift" "$rs_rest" $SIZE_MB
	say "ratios: full restic/cryptsnap $(echo "scale=2; $rs_full / $cs_full" | bc)," \
	    "incr $(echo "scale=2; $rs_inc / $cs_inc" | bc), restore $(echo "scale=2; $rs_rest / $cs_rest" | bc)"
fi
say "ratio: cryptsnap full on the non-zero data vs raw PUT rate: $(echo "scale=2; ($NZ / $cs_full) / ($SIZE_MB / $raw)" | bc)"
