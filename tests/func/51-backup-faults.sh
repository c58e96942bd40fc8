#!/bin/bash
# Issue 5 under stress and failure, on LUKS1: a backup while fio writes
# heavily equals a byte copy taken at the snapshot moment; a backup killed
# mid-way loses no changed chunk; a COW overflow fails the backup cleanly
# without disturbing the VM, and the next backup succeeds.
#
# The snapshot-moment oracle: the disk's pre-freeze hook pauses fio
# (SIGSTOP), lets in-flight I/O drain, and copies the raw ciphertext; the
# post-thaw hook resumes fio.  No filesystem sits on the mapping, so
# nothing writes between the copy and the snapshot.
. "$(dirname "$0")/lib.sh"

DISK=/dev/vdc
t_tool_env 51 'luks1 passphrase'
rm -f /tmp/51.*.img

cat >/tmp/51.pre <<'HOOK'
#!/bin/bash
[ -e /tmp/51.capture ] || exit 0
pkill -STOP -x fio; sleep 1
dd if=/dev/vdc of=/tmp/51.truth.img bs=1M iflag=direct status=none
HOOK
cat >/tmp/51.post <<'HOOK'
#!/bin/bash
pkill -CONT -x fio; exit 0
HOOK
chmod +x /tmp/51.pre /tmp/51.post

t_wipe "$DISK"
cryptsetup luksFormat --type luks1 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" raw51 || t_fail "open"
t_cleanup_add "cryptsetup close raw51"
t_cleanup_add "cryptsnap unprotect raw51"
dd if=/dev/urandom of=/dev/mapper/raw51 bs=1M count=64 oflag=direct status=none
cryptsnap vault init "$VAULT" >/dev/null
t_check "protect a LUKS1 mapping with freeze hooks" cryptsnap protect raw51 --vault "$VAULT" \
	--key-file "$KEY" --cow-dir /tmp --pre-freeze /tmp/51.pre --post-thaw /tmp/51.post
t_check "first backup (full)" cryptsnap backup raw51

fio_bg() {
	fio --name=load --filename=/dev/mapper/raw51 --rw=randwrite --bs=4k --iodepth=16 \
		--ioengine=libaio --direct=1 --time_based --runtime="$1" --size=200M \
		--randrepeat=0 >/tmp/51.fio.log 2>&1 &
	FIO=$!
}

# restore_equals POINTJSON: the point restores to exactly the truth copy.
restore_equals() {
	local p
	p=$(jget point "$1")
	[ -n "$p" ] || return 1
	cryptsnap restore --point "$p" --to /tmp/51.r.img --force >/dev/null || return 1
	cmp /tmp/51.r.img /tmp/51.truth.img
	local rc=$?
	rm -f /tmp/51.r.img
	return $rc
}

# 1. Backup under heavy writes.
touch /tmp/51.capture
fio_bg 60
sleep 3
cryptsnap backup raw51 --cow-size 256M --json >/tmp/51.b2 2>/tmp/51.b2.err
rc=$?
kill $FIO 2>/dev/null; wait $FIO
[ $rc = 0 ] && t_ok "incremental backup while fio writes (QD16)" || t_fail "backup under load: $(cat /tmp/51.b2.err)"
t_check "point equals the byte copy taken at the snapshot moment" restore_equals /tmp/51.b2
# Issue 13: fio keeps writing all over the disk during the backup, but
# only chunks of the change set (and the header) may be copied.
need=$(jget chunks_needed /tmp/51.b2) used=$(jget cow_chunks_used /tmp/51.b2)
total=$(( $(blockdev --getsize64 $DISK) / 65536 ))
t_diag "incremental under fio: $need of $total chunks needed, $used copied to COW"
[ -n "$need" ] && [ -n "$used" ] && [ "$need" -lt "$total" ] && [ "$used" -le "$need" ] &&
	t_ok "the snapshot copied only chunks the incremental backup needed" ||
	t_fail "needed '$need' of $total, COW used '$used'"

# 2. Kill the tool mid-backup, then back up again.
rm -f /tmp/51.capture
dd if=/dev/urandom of=/dev/mapper/raw51 bs=1M count=96 seek=8 oflag=direct status=none
cryptsnap backup raw51 >/dev/null 2>&1 &
bk=$!
# Kill it once its snapshot exists (how long that takes depends on how
# loaded the host running this guest is), while it is still copying.
for _ in $(seq 300); do
	cryptsnap status raw51 2>/dev/null | grep -Eq 'snapshot +active' && break
	kill -0 $bk 2>/dev/null || break
	sleep 0.2
done
sleep 0.5
kill -9 $bk 2>/dev/null; wait $bk 2>/dev/null
t_check "the killed backup left a snapshot behind (status says so)" bash -c \
	"cryptsnap status raw51 | grep -Eq 'snapshot +(active|invalid)'"
touch /tmp/51.capture
cryptsnap backup raw51 --json >/tmp/51.b3 2>/tmp/51.b3.err
t_check "the next backup cleans up and succeeds" test -n "$(jget point /tmp/51.b3)"
t_check "it is incremental and covers the killed run's changes" bash -c \
	"[ \"\$(sed -n 's/.*\"chunks_read\": *\([0-9]*\).*/\1/p' /tmp/51.b3)\" -ge 1536 ]"
t_check "no changed chunk lost: point equals the snapshot-moment copy" restore_equals /tmp/51.b3
t_check "no leftover view or COW loop device" bash -c \
	"! dmsetup ls | grep -q cryptsnap-view && ! losetup -a | grep -q '51\|cow'"

# 3. COW overflow: a 1 MiB COW store while fio writes.
rm -f /tmp/51.capture
fio_bg 30
sleep 2
cryptsnap backup raw51 --cow-size 1M >/dev/null 2>/tmp/51.b4.err
rc=$?
wait $FIO
frc=$?
[ $rc != 0 ] && grep -q 'became invalid:cow_full' /tmp/51.b4.err &&
	t_ok "backup fails cleanly on COW overflow: $(head -n1 /tmp/51.b4.err)" ||
	t_fail "COW overflow: rc=$rc $(cat /tmp/51.b4.err)"
[ $frc = 0 ] && ! grep -q 'err= *[1-9]' /tmp/51.fio.log &&
	t_ok "the VM's writes saw no error during the overflow" || t_fail "fio failed: $(tail -n 3 /tmp/51.fio.log)"
t_check "snapshot gone after the failed backup" bash -c "cryptsnap status raw51 | grep -Eq 'snapshot +none'"
touch /tmp/51.capture
cryptsnap backup raw51 --json >/tmp/51.b5 2>/tmp/51.b5.err
t_check "the next backup succeeds" test -n "$(jget point /tmp/51.b5)"
t_check "and equals the snapshot-moment copy" restore_equals /tmp/51.b5
t_check "vault verifies" cryptsnap verify --vault "$VAULT"
t_cleanup
rm -rf /tmp/51.*
