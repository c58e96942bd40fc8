#!/bin/bash
# Issue 3 benchmark, run inside the test VM (make bench / vm-run.sh --bench).
# Through dm-crypt (LUKS2) on:
#   bare     the backing device
#   track    cryptsnap, tracking only
#   era      dm-era (the in-kernel change tracker)
#   snap     cryptsnap with a live snapshot (COW on /dev/vdb), 64 KiB COW
#            chunks (the tracking chunk: what the tool uses)
#   snapbig  the same with 256 KiB COW chunks (tracking stays 64 KiB)
#   snap4k   the same with 4 KiB COW chunks
#   dmsnap   dm-snapshot, persistent, 64 KiB chunks, same COW device
#   snapinc  cryptsnap with the live snapshot of an incremental backup: 1%
#            of the chunks changed before it (random 4 KiB writes), then
#            release_unchanged keeping the 16 MiB LUKS2 header: only those
#            chunks are copied on first write (issue 13)
#   snapfull cryptsnap with the live snapshot of a full backup that reads
#            the disk front to back over the run and releases what it has
#            read: a background loop releases the disk in one slice per
#            second so the sweep ends with the run (one dmsetup a second:
#            under TCG a process start costs the guest's only CPU, and
#            ten a second measurably slowed fio).  The backup's reads are
#            not emulated (they cost the VM the same whatever the snapshot
#            does); what is measured is how many first writes still copy.
# measures fio 4k random write IOPS (libaio, QD16) and 1 MiB sequential
# write bandwidth, ROUNDS times in the same boot, and prints ratios of the
# per-config medians and the median of per-round ratios.  Snapshots are
# fresh in every run, so "snap" and "dmsnap" include first-write copies;
# on the 4 GiB bench disks most random writes are first writes.
set -u
[ "${BENCH_ONLY:-kernel}" = kernel ] || exit 0	# BENCH_ONLY=incremental skips it
ROUNDS=${ROUNDS:-3}
RT=${RT:-20}
DEV=/dev/vda COW=/dev/vdb META=/dev/vdd
SZ=$(blockdev --getsz $DEV)
KEY=/tmp/bench.key
printf 'bench' >"$KEY"
LUKS=(--batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000)
RES=/tmp/bench.res
: >"$RES"

say() { echo "# bench: $*"; }
zero_head() { dd if=/dev/zero of="$1" bs=1M count=4 oflag=direct status=none; }

# Build the stack for config $1; prints the device to open dm-crypt on.
setup() {
	case $1 in
	bare) echo $DEV ;;
	track|snap|snapbig|snap4k)
		dmsetup create bcs --table "0 $SZ cryptsnap $DEV 128" || return 1
		# No view: it would claim the origin before cryptsetup opens it.
		[ $1 = snap ] && { dmsetup message bcs 0 snap_take $COW || return 1; }
		[ $1 = snapbig ] && { dmsetup message bcs 0 snap_take $COW 512 || return 1; }
		[ $1 = snap4k ] && { dmsetup message bcs 0 snap_take $COW 8 || return 1; }
		echo /dev/mapper/bcs ;;
	snapinc)
		dmsetup create bcs --table "0 $SZ cryptsnap $DEV 128" || return 1
		fio --name=p --filename=/dev/mapper/bcs --rw=randwrite --bs=4k --offset=16m \
			--number_ios=$((SZ / 128 / 100)) --direct=1 --randrepeat=0 \
			--ioengine=libaio --iodepth=16 >/dev/null 2>&1 || return 1
		dmsetup message bcs 0 snap_take $COW || return 1
		dmsetup message bcs 0 release_unchanged 32768 || return 1
		echo /dev/mapper/bcs ;;
	snapfull)
		dmsetup create bcs --table "0 $SZ cryptsnap $DEV 128" || return 1
		dmsetup message bcs 0 snap_take $COW || return 1
		step=$(( (SZ / RT + 127) / 128 * 128 ))
		( pos=0; sleep 1
		  while [ $pos -lt $SZ ]; do
			n=$(( SZ - pos < step ? SZ - pos : step ))
			dmsetup message bcs 0 release $pos $n 2>/dev/null
			pos=$((pos + n)); sleep 1
		  done ) >/dev/null 2>&1 &
		RELEASER=$!
		echo /dev/mapper/bcs ;;
	era)
		zero_head $META
		dmsetup create bera --table "0 $SZ era $META $DEV 128" || return 1
		echo /dev/mapper/bera ;;
	dmsnap)
		zero_head $COW
		dmsetup create borig --table "0 $SZ snapshot-origin $DEV" || return 1
		dmsetup create bsnap --table "0 $SZ snapshot $DEV $COW P 128" || return 1
		# The origin learns its snapshots' chunk size, where it must
		# split writes, only on resume (as LVM does it).  Without this
		# a multi-chunk write copies only its first chunk.
		{ dmsetup suspend borig && dmsetup resume borig; } || return 1
		echo /dev/mapper/borig ;;
	esac
}

RELEASER=
teardown() {
	[ -n "$RELEASER" ] && { kill $RELEASER 2>/dev/null; wait $RELEASER 2>/dev/null; RELEASER=; }
	cryptsetup close bc 2>/dev/null
	dmsetup message bcs 0 snap_drop 2>/dev/null
	for d in bcs bera bsnap borig; do dmsetup remove $d 2>/dev/null; done
	return 0
}

# fio json: first "iops"/"bw"/"total_ios" after the "write" object.
fio_write() {
	awk -v k="\"$1\"" '/"write" : \{/ {w = 1} w && $1 == k {gsub(/,/, "", $3); print $3; exit}' "$2"
}

# Chunks copied to COW by the snapshot of config $1 (first writes).
cow_used() {
	case $1 in
	snap*) dmsetup status bcs | awk '{print $11}' ;;
	dmsnap) dmsetup status bsnap | awk '{split($4, a, "/"); print int(a[1] / 128)}' ;;
	esac
}

run() {
	local cfg=$1 wl=$2 lower v
	# Not in $(...): snapfull's releaser must be our child.
	setup $cfg >/tmp/bench.lower || { say "setup $cfg failed"; teardown; return 1; }
	lower=$(cat /tmp/bench.lower)
	cryptsetup open --key-file "$KEY" "$lower" bc || { say "open on $cfg failed"; teardown; return 1; }
	if [ $wl = rand4k ]; then
		fio --name=r --filename=/dev/mapper/bc --rw=randwrite --bs=4k --ioengine=libaio \
			--iodepth=16 --direct=1 --time_based --runtime=$RT --randrepeat=0 \
			--output-format=json >/tmp/bench.json 2>/dev/null
		v=$(fio_write iops /tmp/bench.json)
	else
		fio --name=s --filename=/dev/mapper/bc --rw=write --bs=1M --ioengine=libaio \
			--iodepth=4 --direct=1 --size=256M --runtime=$((RT * 2)) \
			--output-format=json >/tmp/bench.json 2>/dev/null
		v=$(fio_write bw /tmp/bench.json)
	fi
	local note= used
	used=$(cow_used $cfg)
	[ -n "$used" ] && note=" ($used COW chunks copied, $(fio_write total_ios /tmp/bench.json) writes)"
	[ "${cfg#snap}" != "$cfg" ] && note="$note, status: $(dmsetup status bcs | cut -d' ' -f10-13)"
	teardown
	echo "$cfg $wl ${v%.*} $r" >>"$RES"
	say "round $r $cfg $wl $([ $wl = rand4k ] && echo "${v%.*} IOPS" || echo "${v%.*} KiB/s")$note"
}

dd if=/dev/zero of=$DEV bs=1M count=16 oflag=direct status=none
cryptsetup luksFormat --type luks2 "${LUKS[@]}" --key-file "$KEY" $DEV >/dev/null 2>&1 ||
	{ say "luksFormat failed"; exit 1; }
say "kernel $(uname -r), $ROUNDS rounds, ${RT}s per random run"
say "fio --rw=randwrite --bs=4k --ioengine=libaio --iodepth=16 --direct=1 --runtime=$RT;" \
	"fio --rw=write --bs=1M --iodepth=4 --size=256M"
for r in $(seq 1 $ROUNDS); do
	for wl in ${WORKLOADS:-rand4k seq1m}; do
		# Alternate the order so drift of the emulator hits all alike.
		cfgs=${CONFIGS:-bare track era snap snap4k snapbig dmsnap snapinc snapfull}
		[ $((r % 2)) = 0 ] && cfgs=$(echo $cfgs | tr ' ' '\n' | tac | tr '\n' ' ')
		for cfg in $cfgs; do
			run $cfg $wl
		done
	done
done

med() { awk -v c=$1 -v w=$2 '$1 == c && $2 == w {print $3}' "$RES" | sort -n |
	awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print 0}'; }
ratio() { awk -v a=$1 -v b=$2 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
# Median over rounds of the ratio a/b within each round: the two ran back
# to back, so drift of the emulator between rounds cancels out.
paired() {
	awk -v a=$1 -v b=$2 -v w=$3 '$2 == w && $1 == a {x[$4] = $3} $2 == w && $1 == b {y[$4] = $3}
		END {for (r in x) if (y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$RES" | sort -n |
		awk '{v[NR] = $1; l = l sep sprintf("%.2f", $1); sep = " "}
		     END {if (NR) printf "%.2f (rounds: %s)", v[int((NR + 1) / 2)], l; else print "n/a"}'
}
for wl in ${WORKLOADS:-rand4k seq1m}; do
	b=$(med bare $wl) t=$(med track $wl) e=$(med era $wl) s=$(med snap $wl) d=$(med dmsnap $wl)
	g=$(med snapbig $wl) k=$(med snap4k $wl) i=$(med snapinc $wl) f=$(med snapfull $wl)
	unit=$([ $wl = rand4k ] && echo IOPS || echo KiB/s)
	say "$wl medians ($unit): bare $b, track $t, era $e, snap $s, snap4k $k, snapbig $g, dmsnap $d," \
		"snapinc $i, snapfull $f"
	say "$wl ratios: track/bare $(ratio $t $b) (target >= 0.98), era/bare $(ratio $e $b)," \
		"snap/bare $(ratio $s $b), dmsnap/bare $(ratio $d $b)," \
		"snap/dmsnap $(ratio $s $d), snap4k/dmsnap $(ratio $k $d) (target >= 1.5)," \
		"snapbig/dmsnap $(ratio $g $d)"
	say "$wl paired per round: track/bare $(paired track bare $wl), snap/dmsnap $(paired snap dmsnap $wl)," \
		"snap4k/dmsnap $(paired snap4k dmsnap $wl), snapbig/dmsnap $(paired snapbig dmsnap $wl)"
	say "$wl issue 13, paired per round: snapinc/bare $(paired snapinc bare $wl) (target >= 0.95)," \
		"snapfull/bare $(paired snapfull bare $wl) (target >= 0.8), snap/bare $(paired snap bare $wl)"
done
