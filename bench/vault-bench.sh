#!/bin/bash
# Vault benchmark (issue 4): cryptsnap vs dd, restic and borg on the same
# image in one run, ratios printed at the end.
#   bash bench/vault-bench.sh [SIZE_MiB] [WORKDIR]
# The image is SIZE MiB (default 2048): alternating 64 MiB regions of
# random bytes (stand-in for LUKS ciphertext) and zeros, half each.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
SIZE=${1:-2048}
W=${2:-$(mktemp -d "${TMPDIR:-/var/tmp}/vault-bench.XXXXXX")}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export CRYPTSNAP_KEY_DIR=$W/keys RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
cd "$W"

declare -A T
now() { date +%s.%N; }
# Wall time (the figure compared), and the CPU time of the command
# (user + sys): on a shared host the CPU time is the steadier figure.
# stderr goes to KEY.err; cryptsnap backup writes its stage trace there.
timeit() {	# timeit KEY command...
	local k=$1 t0 cpu; shift
	sync; t0=$(now)
	{ TIMEFORMAT='%U %S'; time "$@" >/dev/null 2>"$k.err"; } 2>"$k.cpu" ||
		{ echo "FAILED: $*" >&2; cat "$k.err" >&2; exit 1; }
	sync
	T[$k]=$(echo "$(now) - $t0" | bc -l)
	read -r cpu < <(tail -n1 "$k.cpu")
	printf '%-22s %8.2f s  %8.1f MiB/s  cpu user/sys %s s\n' "$k" "${T[$k]}" \
		"$(echo "$SIZE / ${T[$k]}" | bc -l)" "${cpu// //}"
}
export CRYPTSNAP_BACKUP_TRACE=1

echo "# image: $SIZE MiB, half random, half zero; $(nproc) CPUs; in $W"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$SIZE" <<'PY'
import os, sys
size = int(sys.argv[1])
with open("img", "wb") as f:
    for i in range(size // 64):
        f.write(os.urandom(64 << 20) if i % 2 == 0 else bytes(64 << 20))
PY
cp img img-mod
python3 - <<'PY'
import os, random
chunk = 65536
n = os.path.getsize("img-mod") // chunk
random.seed(1)
with open("img-mod", "r+b") as f:
    for c in random.sample(range(n), n // 100):
        f.seek(c * chunk); f.write(os.urandom(chunk))
PY
mkdir -p mnt
"$CS" vault init vault >/dev/null
restic init -r restic-repo >/dev/null 2>&1
borg init -e repokey borg-repo >/dev/null 2>&1

echo "## full backup"
timeit dd_copy dd if=img of=dd-copy bs=4M conv=fsync
timeit cryptsnap_backup "$CS" backup --vault vault --source img --disk bench
sed 's/^/    /' cryptsnap_backup.err
timeit restic_backup restic -r restic-repo backup img
timeit borg_backup borg create borg-repo::one img

echo "## restore"
P1=$("$CS" points --vault vault --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
rm -f dd-copy
timeit dd_restore dd if=img of=dd-copy bs=4M conv=fsync
timeit cryptsnap_restore "$CS" restore --vault vault --point "$P1" --to restored
cmp img restored
mkdir -p restic-out borg-out
timeit restic_restore restic -r restic-repo restore latest --target restic-out
timeit borg_restore bash -c "cd borg-out && borg extract ../borg-repo::one"

echo "## incremental after changing 1% of 64 KiB chunks (scan mode)"
cp img-mod img
timeit cryptsnap_incr "$CS" backup --vault vault --source img --disk bench
timeit restic_incr restic -r restic-repo backup img
timeit borg_incr borg create borg-repo::two img

echo "## ratios (speed relative to the peer; > 1 means cryptsnap is faster)"
r() { printf '%-40s %6.2fx\n' "$1" "$(echo "${T[$3]} / ${T[$2]}" | bc -l)"; }
r "full backup vs dd"        cryptsnap_backup dd_copy
r "full backup vs restic"    cryptsnap_backup restic_backup
r "full backup vs borg"      cryptsnap_backup borg_backup
r "restore vs dd"            cryptsnap_restore dd_restore
r "restore vs restic"        cryptsnap_restore restic_restore
r "restore vs borg"          cryptsnap_restore borg_restore
r "incremental vs restic"    cryptsnap_incr restic_incr
r "incremental vs borg"      cryptsnap_incr borg_incr
echo "## repository sizes"
du -sh vault restic-repo borg-repo
