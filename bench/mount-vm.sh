#!/bin/bash
# Issue 16, inside the test VM (make bench, or vm-run.sh --bench --env
# BENCH_ONLY=mount): a 1 GiB LUKS2 disk with an ext4 of a few thousand
# files, backed up once; then the same point is opened two ways, one after
# the other, page cache dropped before each:
#   mount     cryptsnap mount (NBD served from the vault, on demand)
#   restore   cryptsnap restore to a file, losetup, cryptsetup open, mount
# For each: seconds to the end of reading one 1 MiB file (from the start
# of the command), then seconds of a recursive sha256sum of everything.
# Prints both and the ratios (goals: first file restore/mount >= 20,
# full read restored/mount >= 0.5).  The vault lives on an ext4 on /dev/vdb.
set -u
[ "${BENCH_ONLY:-mount}" = mount ] || exit 0
say() { echo "# bench-mount: $*"; }
modprobe nbd 2>/dev/null || { say "no nbd module: skipped"; exit 0; }
DISK=/dev/vda SZ_MB=1024 NFILES=${BENCH_MOUNT_FILES:-3000}
W=/mnt/bm M=/mnt/bm-m R=/mnt/bm-r
mkfs.ext4 -q -F /dev/vdb >/dev/null 2>&1 && mkdir -p $W $M $R && mount /dev/vdb $W ||
	{ say "no work file system on /dev/vdb"; exit 1; }
trap 'cryptsnap umount $M 2>/dev/null; umount $R 2>/dev/null; cryptsetup close bmr 2>/dev/null
      losetup -D 2>/dev/null; umount /mnt/bm-src 2>/dev/null; cryptsetup close bms 2>/dev/null
      dmsetup remove bmlin 2>/dev/null; umount $W' EXIT
export CRYPTSNAP_STATE_DIR=$W/state CRYPTSNAP_KEY_DIR=$W/keys
printf 'bench' >$W/key && chmod 600 $W/key
dmsetup create bmlin --table "0 $((SZ_MB << 11)) linear $DISK 0" || exit 1
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file $W/key /dev/mapper/bmlin >/dev/null 2>&1 || { say "luksFormat failed"; exit 1; }
cryptsetup open --key-file $W/key /dev/mapper/bmlin bms || exit 1
mkfs.ext4 -q -F /dev/mapper/bms && mkdir -p /mnt/bm-src && mount /dev/mapper/bms /mnt/bm-src || exit 1
# A few thousand files of 4..252 KiB in 30 directories, and one of 1 MiB.
for i in $(seq 1 "$NFILES"); do
	d=/mnt/bm-src/d$((i % 30))
	[ -d $d ] || mkdir $d
	head -c $(((i % 63 + 1) * 4096)) /dev/urandom >$d/f$i
done
head -c 1M /dev/urandom >/mnt/bm-src/one-mib
used=$(df -m /mnt/bm-src | awk 'NR == 2 { print $3 }')
umount /mnt/bm-src && cryptsetup close bms
cryptsnap vault init $W/vault >/dev/null || exit 1
cryptsnap backup --vault $W/vault --source /dev/mapper/bmlin --disk bm --escrow-secret key=$W/key --json >$W/b.json 2>/dev/null ||
	{ say "backup failed"; exit 1; }
P=$(sed -n 's/.*"point": *"\([^"]*\)".*/\1/p' $W/b.json)
say "point $P of a ${SZ_MB} MiB disk, $NFILES files, $used MiB used"

now() { date +%s.%N; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
sumall() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$2"; }

drop
t0=$(now)
CRYPTSNAP_MOUNT_TRACE=$W/mtrace cryptsnap mount --vault $W/vault --point "$P" $M >/dev/null || exit 1
tm=$(now)
cat $M/one-mib >/dev/null
t1=$(now)
say "mount command $(awk -v a="$t0" -v b="$tm" 'BEGIN { printf "%.2f", b - a }') s, then the file $(awk -v a="$tm" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
sumall $M $W/sums.m
t2=$(now)
cryptsnap umount $M >/dev/null
cat $W/mtrace 2>/dev/null

drop
t3=$(now)
cryptsnap restore --vault $W/vault --point "$P" --to $W/img >/dev/null 2>&1 || exit 1
loop=$(losetup -f --show -r $W/img) &&
	cryptsetup open --readonly --key-file $W/key "$loop" bmr &&
	mount -o ro,noload /dev/mapper/bmr $R || exit 1
cat $R/one-mib >/dev/null
t4=$(now)
drop
t5=$(now)
sumall $R $W/sums.r
t6=$(now)

cmp -s $W/sums.m $W/sums.r && say "checksums of both ways agree" || say "CHECKSUMS DIFFER"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" -v g="$t6" 'BEGIN {
	fm = b - a; rm = c - b; fr = e - d; rr = g - f
	printf "# bench-mount: first 1 MiB file: mount %.2f s, restore+open+mount %.2f s: ratio %.1fx (goal >= 20)\n", fm, fr, fr / fm
	printf "# bench-mount: recursive sha256sum: mount %.2f s, restored disk %.2f s: ratio %.2f (goal >= 0.5)\n", rm, rr, rr / rm
}'
