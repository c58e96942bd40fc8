#!/bin/bash
# Issue 13 end to end, inside the test VM (make bench): a 2 GiB LUKS2 disk,
# protected and backed up once; then 1% of its chunks change (random 4 KiB
# writes through dm-crypt) and the same change is backed up three ways,
# one after the other, on the same data.  A quarter of the disk holds data
# written through dm-crypt (ciphertext), the rest was never written, as
# on a real VM's disk; each vault and repository lives on an ext4 on
# /dev/vdb.  BENCH_ONLY=kernel skips this part.
#   cryptsnap   cryptsnap backup DISK (incremental: the change set only)
#   scan        cryptsnap backup --source (the vault's own scan mode:
#               reads the whole device, stores only new chunks)
#   restic      restic backup --stdin of the whole device into a repo
#               that already holds the first state (dedups, reads all)
# Prints wall times and the ratios restic/cryptsnap and scan/cryptsnap
# (goal: restic/cryptsnap >= 20).
set -u
[ "${BENCH_ONLY:-incremental}" = incremental ] || exit 0
say() { echo "# bench-incremental: $*"; }
command -v restic >/dev/null || { say "restic not in the VM: skipped"; exit 0; }
DISK=/dev/vda SZ_MB=2048
W=/mnt/bw
mkfs.ext4 -q -F /dev/vdb >/dev/null 2>&1 && mkdir -p $W && mount /dev/vdb $W ||
	{ say "no work file system on /dev/vdb"; exit 1; }
trap 'cryptsnap unprotect inc 2>/dev/null; cryptsetup close inc 2>/dev/null;
      dmsetup remove inclin 2>/dev/null; umount $W' EXIT
export CRYPTSNAP_STATE_DIR=$W/state CRYPTSNAP_KEY_DIR=$W/keys RESTIC_PASSWORD=bench
printf 'bench' >$W/key; chmod 600 $W/key
dmsetup create inclin --table "0 $((SZ_MB << 11)) linear $DISK 0" || exit 1
D=/dev/mapper/inclin
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file $W/key $D >/dev/null 2>&1 || { say "luksFormat failed"; exit 1; }
cryptsetup open --key-file $W/key $D inc || exit 1
# A quarter of the disk written (ciphertext is incompressible whatever
# the plaintext), spread over it in 64 MiB pieces.
for i in $(seq 0 4 $((SZ_MB / 64 - 1))); do
	dd if=/dev/zero of=/dev/mapper/inc bs=4M count=16 seek=$((i * 16)) oflag=direct \
		status=none 2>/dev/null
done
cryptsnap vault init $W/vault >/dev/null || exit 1
cryptsnap vault init $W/svault >/dev/null || exit 1
cryptsnap protect inc --vault $W/vault --key-file $W/key --cow-dir $W >/dev/null || exit 1
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print "n/a"}'; }
t0=$(now); cryptsnap backup inc >/dev/null 2>$W/b1.err ||
	{ say "first backup failed: $(tail -n 2 $W/b1.err)"; exit 1; }
say "first full backup of $SZ_MB MiB: $(since $t0) s"
cryptsnap backup --vault $W/svault --source $D --disk inc >/dev/null 2>&1 || { say "scan 1 failed"; exit 1; }
restic init --repo $W/restic >/dev/null 2>&1 || { say "restic init failed"; exit 1; }
restic backup --repo $W/restic --stdin --stdin-filename disk <$D >/dev/null 2>&1 ||
	{ say "restic 1 failed"; exit 1; }
# 1% of the 64 KiB chunks, one 4 KiB write each, at random.
n=$((SZ_MB * 16 / 100))
fio --name=c --filename=/dev/mapper/inc --rw=randwrite --bs=4k --number_ios=$n --direct=1 \
	--randrepeat=0 --ioengine=libaio --iodepth=16 --offset=16m >/dev/null 2>&1
sync
t0=$(now); CRYPTSNAP_BACKUP_TRACE=1 cryptsnap backup inc --json >$W/b.json 2>$W/b.err ||
	{ say "incremental failed: $(tail -n 2 $W/b.err)"; exit 1; }
tc=$(since $t0)
# Where the incremental backup's time went (phases, engine stages).
grep '^backup trace' $W/b.err | sed 's/^/# bench-incremental: /'
t0=$(now); cryptsnap backup --vault $W/svault --source $D --disk inc >/dev/null 2>&1 ||
	{ say "scan 2 failed"; exit 1; }
ts=$(since $t0)
t0=$(now); restic backup --repo $W/restic --stdin --stdin-filename disk <$D >/dev/null 2>&1 ||
	{ say "restic 2 failed"; exit 1; }
tr=$(since $t0)
chunks=$(sed -n 's/.*"chunks_read": *\([0-9]*\).*/\1/p' $W/b.json)
say "after changing 1% ($n random 4 KiB writes): cryptsnap read $chunks chunks"
say "wall s: cryptsnap $tc, scan $ts, restic $tr"
say "ratios: restic/cryptsnap $(div $tr $tc) (goal >= 20), scan/cryptsnap $(div $ts $tc)"
