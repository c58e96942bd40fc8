#!/bin/bash
# Issue 12: a backup whose snapshot turns invalid mid-way (here: the VM
# overwrites chunks the backup still needs, more than the COW store
# holds) stops promptly -- at the next batch, told by the kernel -- with
# one clear error line and a non-zero exit; no point is published; the
# next backup works and restores to the disk at its snapshot moment.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc
t_tool_env 56 'invalid mid-backup'
cat >/tmp/56.pre <<'HOOK'
#!/bin/bash
[ -e /tmp/56.capture ] || exit 0
dd if=/dev/vdc of=/tmp/56.truth.img bs=1M iflag=direct status=none
HOOK
# After the snapshot: 8 MiB of first writes near the end of the disk,
# which a full backup reads last, so every chunk must be copied first.
cat >/tmp/56.post <<'HOOK'
#!/bin/bash
[ -e /tmp/56.overflow ] || exit 0
(sleep 1; dd if=/dev/urandom of=/dev/mapper/raw56 bs=64k count=128 seek=3000 oflag=direct \
	status=none; touch /tmp/56.written) >/dev/null 2>&1 &
exit 0
HOOK
chmod +x /tmp/56.pre /tmp/56.post
rm -f /tmp/56.capture /tmp/56.overflow /tmp/56.written

t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" raw56 || t_fail "open"
t_cleanup_add "cryptsetup close raw56"
t_cleanup_add "cryptsnap unprotect raw56"
dd if=/dev/urandom of=/dev/mapper/raw56 bs=1M count=200 oflag=direct status=none
cryptsnap vault init "$VAULT" >/dev/null
t_check "protect" cryptsnap protect raw56 --vault "$VAULT" --key-file "$KEY" --cow-dir /tmp \
	--pre-freeze /tmp/56.pre --post-thaw /tmp/56.post
O=cryptsnap-raw56
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
npoints() { cryptsnap points --vault "$VAULT" --json | grep -c '"id"'; }
before=$(npoints)

# Watch the origin's dm events: note when the snapshot turns invalid.
# The backup drops its snapshot as soon as it sees it invalid, so the
# watcher can wake to a snapshot already gone: an active snapshot that
# vanished while the backup runs was invalidated (the backup never drops
# a good one before it ends), and counts from that moment.
watch_invalid() {
	local ev st seen=0
	rm -f /tmp/56.tinv
	while [ ! -e /tmp/56.stopwatch ]; do
		ev=$(dmsetup info -c --noheadings -o events $O 2>/dev/null | tr -d ' ')
		st=$(dmsetup status $O 2>/dev/null | awk '{print $10}')	# field 6: snapshot state
		case $st in
		invalid:*) date +%s.%N >/tmp/56.tinv; return ;;
		active) seen=1 ;;
		*) [ $seen = 1 ] && { date +%s.%N >/tmp/56.tinv; return; } ;;
		esac
		timeout 2 dmsetup wait $O "${ev:-0}" >/dev/null 2>&1
	done
}
rm -f /tmp/56.stopwatch
watch_invalid & W=$!
touch /tmp/56.overflow
t0=$(date +%s.%N)
cryptsnap backup raw56 --full --cow-size 1M >/tmp/56.out 2>/tmp/56.err
rc=$?
tend=$(date +%s.%N)
touch /tmp/56.stopwatch; wait $W
rm -f /tmp/56.overflow
for i in $(seq 30); do [ -e /tmp/56.written ] && break; sleep 1; done
tinv=$(cat /tmp/56.tinv 2>/dev/null || echo 0)
t_diag "backup: rc=$rc after $(sub "$tend" "$t0") s; snapshot invalid at +$(sub "$tinv" "$t0") s"
sed 's/^/#   /' /tmp/56.err
t_check "the backup fails (non-zero exit)" test $rc != 0
t_check "one error line naming the reason" test "$(grep -c 'became invalid:cow_full' /tmp/56.err)" = 1
t_check "the snapshot's invalidation raised a dm event the watcher saw" test -s /tmp/56.tinv
t_check "it stopped within 5 s of the invalidation" \
	awk -v a="$tend" -v b="$tinv" 'BEGIN { exit !(b > 0 && a - b <= 5) }'
t_check "nothing was published" test "$(npoints)" = "$before"
t_check "the VM's writes all succeeded" test -e /tmp/56.written
t_check "no snapshot or view left behind" bash -c \
	"cryptsnap status raw56 | grep -Eq 'snapshot +none' && ! dmsetup ls | grep -q cryptsnap-view"

touch /tmp/56.capture
cryptsnap backup raw56 --json >/tmp/56.b2 2>/tmp/56.b2.err
rm -f /tmp/56.capture
P=$(sed -n 's/.*"point": *"\([^"]*\)".*/\1/p' /tmp/56.b2)
t_check "the next backup succeeds" test -n "$P"
t_check "and restores to the disk at its snapshot moment" bash -c \
	"cryptsnap restore --point $P --to /tmp/56.r.img --force >/dev/null && cmp /tmp/56.r.img /tmp/56.truth.img"
t_cleanup
rm -rf /tmp/56.*
exit 0
