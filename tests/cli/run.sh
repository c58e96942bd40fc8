#!/bin/bash
# Host CLI tests of the vault (issue 4).  TAP output; exits non-zero when
# any test fails.  Needs no root and no kernel support: image files only.
# CLI_BACKEND=s3 runs the same tests on an S3 vault (issue 17): vault names
# become s3://$S3_BUCKET/<run>/NAME (the AWS_* settings and the Swift
# fixture's from tests/s3/swift-up.sh in the environment), and the tests
# that damage or inspect a vault do it through tests/s3/sobj.py.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-cli.XXXXXX")
export CRYPTSNAP_KEY_DIR=$WORK/keys
export CRYPTSNAP_STATE_DIR=$WORK/state
export CRYPTSNAP_SYSLOG=0	# job events stay out of the host's log
# Never the host's configuration file: an empty one of our own.
: >"$WORK/cryptsnap.conf" && chmod 600 "$WORK/cryptsnap.conf" && export CRYPTSNAP_CONFIG=$WORK/cryptsnap.conf
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# A private copy: a concurrent `make tool` must not swap it mid-run.
cp "$CS" "$WORK/cryptsnap" && CS=$WORK/cryptsnap || exit 1
BACKEND=${CLI_BACKEND:-local}
SOBJ="python3 $TOP/tests/s3/sobj.py"
if [ "$BACKEND" = s3 ]; then
	: "${S3_BUCKET:?CLI_BACKEND=s3 needs the settings swift-up.sh prints}"
	S3_RUN=cli-$(date +%s)-$$
	trap 'rm -rf "$WORK"; $SOBJ rmprefix "$S3_RUN/" 2>/dev/null' EXIT
	# The same command lines: a vault NAME (after --vault or "vault init")
	# becomes its S3 URL on the way to the real binary.
	mv "$CS" "$WORK/cryptsnap.bin"
	cat >"$CS" <<WRAP
#!/bin/bash
a=("\$@")
for ((i = 0; i < \${#a[@]}; i++)); do
	if { [ "\${a[i]}" = --vault ] || { [ \$i = 1 ] && [ "\${a[0]}" = vault ] && [ "\${a[1]}" = init ]; }; } &&
	   [[ "\${a[i + 1]:-}" =~ ^[a-z][a-z0-9]*\$ ]]; then
		a[i + 1]="s3://$S3_BUCKET/$S3_RUN/\${a[i + 1]}"
	fi
done
exec "$WORK/cryptsnap.bin" "\${a[@]}"
WRAP
	chmod 700 "$CS"
fi

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
skip() { N=$((N + 1)); echo "ok $N # skip $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() {	# check "description" command...
	local d=$1; shift
	if "$@" >"$WORK/out.log" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$WORK/out.log"; fi
}
check_fails() {	# check_fails "description" expected-rc command...
	local d=$1 want=$2 rc; shift 2
	"$@" >"$WORK/out.log" 2>&1; rc=$?
	cp "$WORK/out.log" "$WORK/last.log"
	if [ "$rc" = "$want" ]; then ok "$d"; else not_ok "$d (rc $rc, want $want)"; sed 's/^/# /' "$WORK/out.log"; fi
}
last_point() { "$CS" points --vault "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'; }
point_n() { "$CS" points --vault "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)[$2]['id'])"; }
# Vault objects behind the tool's back, on either backend: vls VAULT PREFIX
# prints "NAME SIZE MTIME" per object; vget/vput VAULT NAME (stdout/stdin);
# vcp VAULT NEW copies a vault; vrm VAULT removes it; vrmp VAULT PREFIX.
if [ "$BACKEND" = s3 ]; then
	vls() { $SOBJ ls "$S3_RUN/$1/$2" | sed "s|^$S3_RUN/$1/||"; }
	vget() { $SOBJ get "$S3_RUN/$1/$2"; }
	vput() { $SOBJ put "$S3_RUN/$1/$2"; }
	vcp() { $SOBJ cp "$S3_RUN/$1/" "$S3_RUN/$2/"; }
	vrm() { $SOBJ rmprefix "$S3_RUN/$1/"; }
	vrmp() { $SOBJ rmprefix "$S3_RUN/$1/$2"; }
else
	vls() { find "$1" -type f -path "$1/$2*" -printf '%P %s %T@\n'; }
	vget() { cat "$1/$2"; }
	vput() { mkdir -p "$(dirname "$1/$2")" && cat >"$1/$2" && chmod 600 "$1/$2"; }
	vcp() { cp -a "$1" "$2"; }
	vrm() { rm -rf "$1"; }
	vrmp() { rm -rf "$1/$2"*; }
fi
# The oldest pack was written by the first (full) backup, so point 1 needs
# it whatever the names sort as (pack names are random).
first_pack() { vls "$1" packs/ | grep '\.pack ' | sort -n -k3,3 | head -1 | cut -d' ' -f1; }
# Invert one byte in place.  Writing a fixed byte instead changes nothing
# one time in 256 (ciphertext is random), which made the tamper test flaky.
flip_byte() {
	python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    assert len(b) == 1, "offset beyond the end"
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
PY
}

CHUNK=65536
SIZE_MB=${CLI_SIZE_MB:-256}	# tests/s3/run.sh: 64 (each MiB crosses loopback 3 times)

# Change 1% of the chunks of an image in place, at random chunk numbers.
mutate() {
	python3 - "$1" "$CHUNK" <<'PY'
import os, random, sys
path, chunk = sys.argv[1], int(sys.argv[2])
n = os.path.getsize(path) // chunk
random.seed(4)
with open(path, "r+b") as f:
    for c in random.sample(range(n), max(1, n // 100)):
        f.seek(c * chunk); f.write(os.urandom(chunk))
PY
}

echo "# setup: ${SIZE_MB} MiB random image"
head -c ${SIZE_MB}M /dev/urandom > img1

# --- 1. full, incremental, restore both, byte exact -------------------------
check "vault init (vault-managed)" "$CS" vault init v
check "key file is 0600 in a 0700 dir" bash -c "[ \$(stat -c %a keys/*.kek) = 600 ] && [ \$(stat -c %a keys) = 700 ]"
if [ "$BACKEND" = local ]; then
	check "vault files are 0600, dirs 0700" bash -c "! find v -type f ! -perm 600 | grep -q . && ! find v -type d ! -perm 700 | grep -q ."
else
	skip "vault file modes: local backend only"
fi
check "full backup" "$CS" backup --vault v --source img1 --disk disk1
P1=$(last_point v)
cp img1 img2 && mutate img2
check "incremental backup after 1% change" "$CS" backup --vault v --source img2 --disk disk1 --json
NEW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks_new"])' "$WORK/out.log" 2>/dev/null || echo 0)
P2=$(last_point v)
check "incremental stored only the changed chunks ($NEW new)" test "$NEW" -le $((SIZE_MB * 16 / 100 + 2))
check "restore point 1" "$CS" restore --vault v --point "$P1" --to r1
check "restore point 1 byte-exact" cmp img1 r1
check "restore point 2" "$CS" restore --vault v --point "$P2" --to r2
check "restore point 2 byte-exact" cmp img2 r2
check_fails "restore refuses a non-empty target" 1 "$CS" restore --vault v --point "$P1" --to r2
check "restore --force overwrites" "$CS" restore --vault v --point "$P1" --to r2 --force
check "forced restore byte-exact" cmp img1 r2
check "points --json lists both" bash -c "'$CS' points --vault v --json | grep -c '\"id\"' | grep -qx 2"
check "verify clean vault" "$CS" verify --vault v
check "jobs lists finished jobs" bash -c "'$CS' jobs --vault v | grep -q 'backup.*done'"
rm -f r1 r2

# --- 2. zero image stores almost nothing ------------------------------------
check "vault init z" "$CS" vault init z
truncate -s 1G zero.img
check "backup of a 1 GiB zero image" "$CS" backup --vault z --source zero.img --disk zero
# Bytes of the objects stored (not blocks: every small object and folder
# costs a 4 KiB block whatever it holds, and the vault keeps a few).
zb=$(vls z "" | awk '{s += $2} END {print s + 0}')
check "zero image costs < 64 KiB in the vault ($zb bytes in objects)" test "$zb" -lt 65536
check "zero image restore" "$CS" restore --vault z --point "$(last_point z)" --to zr
check "zero image restore exact" cmp zero.img zr
rm -f zr zero.img
truncate -s 4M small.img
check "CRYPTSNAP_BACKUP_TRACE: the stage trace on stderr" bash -c \
	"CRYPTSNAP_BACKUP_TRACE=1 '$CS' backup --vault z --source small.img --disk small >/dev/null 2>trace.err &&
	 [ \$(grep -c '^backup trace: .* s\$' trace.err) = 6 ] && grep -q 'commit (index, point)' trace.err"
check "no stage trace without CRYPTSNAP_BACKUP_TRACE" bash -c \
	"'$CS' backup --vault z --source small.img --disk small 2>trace.err >/dev/null && ! grep -q 'backup trace' trace.err"
rm -f small.img trace.err

# --- 3. damage: tampered chunk, truncated index, swapped packs --------------
vcp v vt
PACK=$(first_pack vt)
# Offset 1000 lies inside the first record's envelope (format 2: an 8-byte
# pack header, a 40-byte record header, then the sealed chunk).
vget vt "$PACK" >obj.tmp && flip_byte obj.tmp 1000 && vput vt "$PACK" <obj.tmp; rm -f obj.tmp
check_fails "verify names the tampered point(s) (exit 5)" 5 "$CS" verify --vault vt
check "verify output says DAMAGED with point id" grep -q "DAMAGED $P1" "$WORK/last.log"
check_fails "restore of tampered point fails loudly" 5 "$CS" restore --vault vt --point "$P1" --to bad1
check "failed restore leaves no target file" test ! -e bad1
vrm vt

vcp v vi
IDX=$(vls vi index/ | grep '\.idx ' | sort -n -k3,3 | head -1 | cut -d' ' -f1)
vget vi "$IDX" >obj.tmp && truncate -s $(( $(stat -c %s obj.tmp) / 2 )) obj.tmp && vput vi "$IDX" <obj.tmp; rm -f obj.tmp
check_fails "verify with truncated index fails (exit 5)" 5 "$CS" verify --vault vi
check "verify names the damaged index and points" bash -c "grep -q 'DAMAGED index' '$WORK/last.log' && grep -q 'DAMAGED $P1' '$WORK/last.log'"
check_fails "restore with truncated index fails loudly" 5 "$CS" restore --vault vi --point "$P1" --to bad2
vrm vi

vcp v vs
A=$(vls vs packs/ | cut -d' ' -f1 | grep '\.pack$' | sort | sed -n 1p); B=$(vls vs packs/ | cut -d' ' -f1 | grep '\.pack$' | sort | sed -n 2p)
vget vs "$A" >a.tmp && vget vs "$B" >b.tmp && vput vs "$A" <b.tmp && vput vs "$B" <a.tmp; rm -f a.tmp b.tmp
check_fails "verify with swapped pack files fails (exit 5)" 5 "$CS" verify --vault vs
check "verify names damaged points after the swap" grep -q "DAMAGED" "$WORK/last.log"
check_fails "restore with swapped packs fails loudly" 5 "$CS" restore --vault vs --point "$P1" --to bad3
vrm vs; rm -rf bad*

vcp v vm
printf 'garbage' | vput vm points/"$P2".point
check_fails "hostile manifest is reported, not trusted" 5 "$CS" verify --vault vm --point "$P2"
check_fails "prune refuses a vault with a hostile manifest" 5 "$CS" prune --vault vm --keep-last 1
check "prune names the unreadable point" grep -q "point $P2 unreadable; prune refuses to guess" "$WORK/last.log"
vrm vm

vcp v vv
vget vv config.json | sed 's/"format":1/"format":99/' >cfg.tmp && vput vv config.json <cfg.tmp; rm -f cfg.tmp
check_fails "unknown vault format version refused" 1 "$CS" points --vault vv
check "refusal names the version problem" grep -q "unsupported vault format version" "$WORK/last.log"
vrm vv

# --- 4. wrong KEK -------------------------------------------------------------
head -c 32 /dev/urandom > wrong.kek; chmod 600 wrong.kek
check_fails "wrong KEK: exit 4" 4 "$CS" points --vault v --kek wrong.kek
check "wrong KEK: clear message" grep -q "wrong KEK" "$WORK/last.log"
chmod 644 wrong.kek
check_fails "world-readable AES key file refused" 4 "$CS" points --vault v --kek wrong.kek

# --- 5. escrow, rotation, restore of old points -------------------------------
head -c 4096 /dev/urandom > hdr.bin; echo "correct horse battery staple" > pass.txt
check "backup with escrow slots" "$CS" backup --vault v --source img2 --disk disk1 \
	--escrow luks-header=hdr.bin --escrow-secret passphrase=pass.txt
P3=$(last_point v)
check "rotate vault-managed KEK" "$CS" key rotate --vault v
VID=$(vget v config.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vault_id"])')
check "old KEK file removed after rotation" test ! -e "keys/$VID-1.kek" -a -e "keys/$VID-2.kek"
check "restore old point 1 after rotation" "$CS" restore --vault v --point "$P1" --to r1
check "old point 1 byte-exact after rotation" cmp img1 r1
check "restore point 3 with escrow after rotation" "$CS" restore --vault v --point "$P3" --to r3 --escrow-dir esc
check "escrowed header returned intact" cmp hdr.bin esc/luks-header
check "escrowed passphrase returned intact" cmp pass.txt esc/passphrase
openssl genrsa -out cust.pem 2048 2>/dev/null; chmod 600 cust.pem
check "rotate to customer-managed RSA KEK" "$CS" key rotate --vault v --kek cust.pem
check "key show says customer-managed" bash -c "'$CS' key show --vault v | grep -q customer-managed"
check_fails "customer -> vault-managed refused" 4 "$CS" key rotate --vault v
check "activity log records key changes" bash -c "'$CS' key show --vault v --json | grep -c key-rotate | grep -qx 2"
rm -rf r1 r3 esc
check "restore with RSA KEK, escrow intact" "$CS" restore --vault v --point "$P3" --to r3 --escrow-dir esc
check "escrowed passphrase intact after RSA rotation" cmp pass.txt esc/passphrase
openssl genrsa -out small.pem 1024 2>/dev/null
check_fails "RSA key below 2048 bits refused" 4 "$CS" key rotate --vault v --kek small.pem
rm -rf r3 esc

# --- 5b. verify: each point's escrowed key must open the header it stores --------
# (what a restore will open; after a KEK rotation too).  A vault of its own:
# one of its points is bad on purpose.
truncate -s 4M lhdr.img; printf 'verify key passphrase' >lkey.txt; printf 'not it' >lbad.txt
if cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--luks2-metadata-size 16k --luks2-keyslots-size 512k --key-file lkey.txt lhdr.img >/dev/null 2>&1; then
	check "vault init vk" "$CS" vault init vk
	check "backup with a LUKS header and its key" "$CS" backup --vault vk --source img1 --disk lk \
		--escrow luks-header=lhdr.img --escrow-secret key=lkey.txt
	PKG=$(last_point vk)
	check "backup with a LUKS header and a key that does not open it" "$CS" backup --vault vk \
		--source img1 --disk lk --escrow luks-header=lhdr.img --escrow-secret key=lbad.txt
	PKB=$(last_point vk)
	check "verify: the good point is ok" "$CS" verify --vault vk --point "$PKG"
	check_fails "verify: the point whose key does not open its header: exit 5" 5 \
		"$CS" verify --vault vk --point "$PKB"
	check "verify names it and why" grep -q "DAMAGED $PKB: escrowed key does not open the stored LUKS header" "$WORK/last.log"
	check_fails "verify of the whole vault: exit 5" 5 "$CS" verify --vault vk
	check "  and only that point is damaged" grep -q "^1 of 2 points damaged" "$WORK/last.log"
	check "verify --json says so" bash -c "'$CS' verify --vault vk --point '$PKB' --json | \
		grep -Eq '\"status\": *\"escrowed key does not open the stored LUKS header\"'"
	check "rotate the KEK of vk" "$CS" key rotate --vault vk
	check "one step past the rotation: the good point still verifies" \
		"$CS" verify --vault vk --point "$PKG"
	check "  and a new point after it" "$CS" backup --vault vk --source img2 --disk lk \
		--escrow luks-header=lhdr.img --escrow-secret key=lkey.txt
	mkdir -p vtmp
	check "  verifies, key included" env TMPDIR="$WORK/vtmp" "$CS" verify --vault vk --point "$(last_point vk)"
	check "verify left no header file behind" test -z "$(ls -A vtmp)"
	rmdir vtmp
	vrm vk
else
	not_ok "cryptsetup luksFormat of a header file failed (cryptsetup-bin)"
fi
rm -f lhdr.img lkey.txt lbad.txt

# --- 6. retention ---------------------------------------------------------------
check "prune keep-last 1 (retain-until protects)" "$CS" prune --vault z --keep-last 1
check "backup with retain-until" "$CS" backup --vault v --source img1 --disk disk1 --retain-until 2099-12-31
PR=$(last_point v)
check "prune --keep-last 1" "$CS" prune --vault v --keep-last 1
check "retain-until point survives prune" bash -c "'$CS' points --vault v | grep -q $PR"
check "vault verifies after prune + gc" "$CS" verify --vault v
# --- 6b. soft delete and the retention lock (issue 17) ----------------------------
cp img1 imgs1 && "$CS" vault init sd >/dev/null
check "soft delete: backup 1" "$CS" backup --vault sd --source imgs1 --disk dsd
S1=$(last_point sd)
cp imgs1 imgs2 && mutate imgs2
check "soft delete: backup 2" "$CS" backup --vault sd --source imgs2 --disk dsd
S2=$(last_point sd)
check "prune deletes point 1" "$CS" prune --vault sd --keep-last 1
check "points no longer lists the deleted point" bash -c "! '$CS' points --vault sd | grep -q '^$S1 '"
check "points --deleted lists it with its purge time" \
	bash -c "'$CS' points --vault sd --deleted --json | python3 -c 'import json,sys; p=json.load(sys.stdin); assert [x[\"id\"] for x in p] == [\"$S1\"] and p[0][\"purge_after\"] >= p[0][\"deleted\"] + 14 * 86400'"
check "undelete brings it back" "$CS" undelete "$S1" --vault sd
check "the undeleted point restores byte-exact" \
	bash -c "'$CS' restore --vault sd --point '$S1' --to rs1 >/dev/null && cmp imgs1 rs1"
check_fails "undelete of a point that is not deleted: exit 1" 1 "$CS" undelete "$S1" --vault sd
check_fails "undelete of no such point: exit 3" 3 "$CS" undelete 20000101T000000Z-00000000 --vault sd
check "prune deletes it again" "$CS" prune --vault sd --keep-last 1
check "GC keeps it in its grace period" bash -c "'$CS' points --vault sd --deleted | grep -q '^$S1 '"
check "prune 15 days later purges it" "$CS" prune --vault sd --keep-last 1 --now "@$(( $(date +%s) + 15 * 86400 ))"
check "the purged point is gone" bash -c "! '$CS' points --vault sd --deleted | grep -q '^$S1 '"
check_fails "undelete of a purged point: exit 3" 3 "$CS" undelete "$S1" --vault sd
check "the kept point restores byte-exact" \
	bash -c "'$CS' restore --vault sd --point '$S2' --to rs2 >/dev/null && cmp imgs2 rs2"
check "vault verifies after the purge" "$CS" verify --vault sd
check "vault retention --deleted-grace 30" "$CS" vault retention --vault sd --deleted-grace 30
check "vault retention --lock" "$CS" vault retention --vault sd --lock
check "vault retention shows 30 days, locked" \
	bash -c "'$CS' vault retention --vault sd | tr '\n' ' ' | grep -q 'deleted-grace 30 days retention-lock on'"
check_fails "locked: a shorter grace period is refused (exit 1)" 1 "$CS" vault retention --vault sd --deleted-grace 7
check "the refusal is one line" test "$(wc -l <"$WORK/last.log")" = 1
check "a longer grace period is allowed" "$CS" vault retention --vault sd --deleted-grace 60
printf '[defaults]\ndeleted-grace = 2\n' >sd.conf && chmod 600 sd.conf
check_fails "locked: deleted-grace 2 in the config file is refused by prune" 1 \
	env CRYPTSNAP_CONFIG="$WORK/sd.conf" "$CS" prune --vault sd --keep-last 1
check "the refusal names the locked grace" grep -q "shorter than the vault's locked grace period of 60 days" "$WORK/last.log"
check_fails "vault init --deleted-grace 40000: exit 2" 2 "$CS" vault init sd2 --deleted-grace 40000
rm -f imgs1 imgs2 rs1 rs2 sd.conf

check "vault repair of an intact vault succeeds" "$CS" vault repair --vault v
check "vault verifies after repair" "$CS" verify --vault v

# --- 7. kill -9 during backup ----------------------------------------------------
"$CS" vault init k >/dev/null
cp img1 imgk
for delay in 0.05 0.3 0.8 1.5; do
	mutate imgk
	"$CS" backup --vault k --source imgk --disk diskk >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	check "after kill -9 at ${delay}s: verify passes" "$CS" verify --vault k
done
check "backup again after the kills (stale lock ignored)" "$CS" backup --vault k --source imgk --disk diskk
check "prune gc cleans leftovers" "$CS" prune --vault k
check "final point restores exactly" "$CS" restore --vault k --point "$(last_point k)" --to rk
check "final point byte-exact" cmp imgk rk
check "jobs shows interrupted jobs" bash -c "'$CS' jobs --vault k | grep -Eq 'interrupted|done'"

# --- 8. locking ----------------------------------------------------------------
# pid 1 of this host is alive; names are <host>_<pid>_<16 hex>.<kind>.
echo '{}' | vput k "locks/$(hostname | tr A-Z a-z)_1_0000000000000000.exclusive"
check_fails "backup refused while an exclusive lock is held" 6 "$CS" backup --vault k --source imgk --disk diskk
vrmp k locks/

echo "1..$N"
[ "$FAILED" = 0 ] || { echo "# $FAILED failed"; exit 1; }
