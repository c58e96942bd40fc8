#!/bin/bash
# Full backup and restore of an all-random image (issue 18): the first
# backup of an encrypted disk, where nothing is zero and nothing dedups,
# against dd to the same filesystem.  Every round runs dd and each build
# with a fresh vault, order alternating between rounds, page cache dropped
# before every timed command; medians printed at the end.
#   bash bench/vault-random.sh [SIZE_MiB] [ROUNDS] [WORKDIR]
# CRYPTSNAP=path picks the build (default: this tree's), CRYPTSNAP_B=path
# adds a second build (e.g. the previous one) to the same rounds.
# Needs root (drop_caches).  Holds no lock itself: run it under the
# project's quiet-host convention.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
declare -A BIN=([A]=$(realpath "${CRYPTSNAP:-$TOP/userspace/cryptsnap}"))
[ -n "${CRYPTSNAP_B:-}" ] && BIN[B]=$(realpath "$CRYPTSNAP_B")
SIZE=${1:-2048}
ROUNDS=${2:-5}
W=${3:-$(mktemp -d "${TMPDIR:-/var/tmp}/vault-random.XXXXXX")}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
export CRYPTSNAP_KEY_DIR=$W/keys CRYPTSNAP_STATE_DIR=$W/state
cd "$W"

# Wall seconds of a command, from cold caches, sync included.
secs() {
	local t0
	sync; echo 3 > /proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	"$@" >/dev/null
	sync
	echo "$(date +%s.%N) - $t0" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

head -c "${SIZE}M" /dev/urandom > img
echo "# all-random $SIZE MiB, $ROUNDS rounds, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for k in "${!BIN[@]}"; do echo "# $k = ${BIN[$k]}"; done
declare -A BK RS
BK[dd]="" RS[dd]=""
for k in "${!BIN[@]}"; do BK[$k]="" RS[$k]=""; done
for i in $(seq 1 "$ROUNDS"); do
	order="dd $(printf '%s ' "${!BIN[@]}" | tr ' ' '\n' | sort | xargs)"
	[ $((i % 2)) = 0 ] && order=$(echo "$order" | tr ' ' '\n' | tac | xargs)
	for k in $order; do
		rm -rf vault keys state copy restored
		if [ "$k" = dd ]; then
			b=$(secs dd if=img of=copy bs=4M conv=fsync status=none)
			rm -f copy
			r=$(secs dd if=img of=copy bs=4M conv=fsync status=none)
		else
			"${BIN[$k]}" vault init vault >/dev/null
			b=$(secs "${BIN[$k]}" backup --vault vault --source img --disk bench)
			p=$("${BIN[$k]}" points --vault vault --json |
			    python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
			r=$(secs "${BIN[$k]}" restore --vault vault --point "$p" --to restored)
			cmp img restored
		fi
		BK[$k]+="$b " RS[$k]+="$r "
		printf '%2d %-2s backup %6.2f s  restore %6.2f s\n' "$i" "$k" "$b" "$r"
	done
done
# shellcheck disable=SC2086
dbk=$(median ${BK[dd]}) drs=$(median ${RS[dd]})
printf '## medians: dd copy %.2f s (backup side), %.2f s (restore side)\n' "$dbk" "$drs"
for k in $(printf '%s\n' "${!BIN[@]}" | sort); do
	# shellcheck disable=SC2086
	b=$(median ${BK[$k]}) r=$(median ${RS[$k]})
	printf '%s: backup %.2f s = %.2fx dd, restore %.2f s = %.2fx dd  (%s)\n' "$k" \
		"$b" "$(echo "$dbk / $b" | bc -l)" "$r" "$(echo "$drs / $r" | bc -l)" "${BIN[$k]}"
done
