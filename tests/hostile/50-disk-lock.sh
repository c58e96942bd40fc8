# Two `backup DISK` runs of one disk at once: the second used to take the
# first one's snapshot for an interrupted run's and drop it.  Now the host
# lock of the disk (state dir, flock) is taken before any device or kernel
# work: the second run is refused (exit 6) naming the holder's pid, and
# leaves the first one's state and lock alone.  So are protect, unprotect
# and key escrow of that disk.
. "$TOP/tests/hostile/lib_locks.sh"
case_begin disk-lock
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
disk_state d1 "$WORK/v"
LOCK=$CRYPTSNAP_STATE_DIR/disks/d1.lock
(umask 077; : >"$LOCK")
hold_flock "$LOCK"
sha256sum "$CRYPTSNAP_STATE_DIR/disks/d1.json" >state.sum
check_fails "second backup of a busy disk refused" 6 "$CS" backup d1
cp "$WORK/out.log" refusal.log
check "the refusal names the holder's pid" grep -q "pid $HOLDER " refusal.log
check_fails "unprotect of a busy disk refused" 6 "$CS" unprotect d1
check_fails "key escrow of a busy disk refused" 6 "$CS" key escrow d1 --key-file /dev/null
check "the first run still holds its lock" kill -0 "$HOLDER"
check "the disk's state is untouched" sha256sum --quiet -c state.sum
release_flock
# With the holder gone the lock is free: the run goes on to the device
# (absent here) and fails there, not on the lock.
"$CS" backup d1 >"$WORK/out.log" 2>&1; rc=$?
check "after the holder exits the lock is free" test "$rc" != 6
check "lock file is 0600" test "$(stat -c %a "$LOCK")" = 600
# A planted lock file that is not private (or a symlink) is refused.
rm -f "$LOCK"; ln -s "$WORK/outside/canary1" "$LOCK"
check_fails "a symlink as lock file is refused" 1 "$CS" backup d1
rm -f "$LOCK"; (umask 022; : >"$LOCK"); chmod 644 "$LOCK"
check_fails "a 0644 lock file is refused" 1 "$CS" backup d1
rm -f "$LOCK"
check "a normal backup works after the refusals" "$CS" backup --vault v --source img --disk d1
check "and its point restores" restores_exact v "$(last_point v)" img
case_end
