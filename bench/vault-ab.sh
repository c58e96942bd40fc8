#!/bin/bash
# A/B of two cryptsnap builds on a full backup, interleaved so that load
# from other jobs hits both alike: every round runs dd and both builds on the
# same image with a fresh vault, in ABBA order; means printed at the end.
#   bash bench/vault-ab.sh CRYPTSNAP_A CRYPTSNAP_B [ROUNDS] [SIZE_MiB] [WORKDIR]
# Image as in vault-bench.sh: alternating 64 MiB random / zero regions.
set -euo pipefail

A=$(realpath "$1") B=$(realpath "$2")
ROUNDS=${3:-10}
SIZE=${4:-1024}
W=${5:-$(mktemp -d "${TMPDIR:-/var/tmp}/vault-ab.XXXXXX")}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export CRYPTSNAP_KEY_DIR=$W/keys
cd "$W"

python3 - "$SIZE" <<'PY'
import os, sys
size = int(sys.argv[1])
with open("img", "wb") as f:
    for i in range(size // 64):
        f.write(os.urandom(64 << 20) if i % 2 == 0 else bytes(64 << 20))
PY
secs() {	# wall seconds of a command, sync included
	local t0
	sync; t0=$(date +%s.%N)
	"$@" >/dev/null
	sync
	echo "$(date +%s.%N) - $t0" | bc -l
}
declare -A BIN=([A]=$A [B]=$B) SUM=([A]=0 [B]=0)
echo "# $SIZE MiB, $ROUNDS rounds, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$ROUNDS"); do
	order="A B"; [ $((i % 2)) = 0 ] && order="B A"
	for v in $order; do
		rm -rf vault keys dd-copy
		"${BIN[$v]}" vault init vault >/dev/null
		d=$(secs dd if=img of=dd-copy bs=4M conv=fsync status=none)
		c=$(secs "${BIN[$v]}" backup --vault vault --source img --disk bench)
		SUM[$v]=$(echo "${SUM[$v]} + $c" | bc -l)
		printf '%2d %s  dd %5.2f s  backup %5.2f s  vs dd %.2fx\n' "$i" "$v" "$d" "$c" \
			"$(echo "$d / $c" | bc -l)"
	done
done
printf 'mean backup: A %.2f s, B %.2f s\n' "$(echo "${SUM[A]} / $ROUNDS" | bc -l)" \
	"$(echo "${SUM[B]} / $ROUNDS" | bc -l)"
