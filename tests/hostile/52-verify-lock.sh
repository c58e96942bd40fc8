# verify took no lock, so a GC running meanwhile made it report DAMAGED
# points that were fine.  Now verify holds a shared vault lock: under a
# live exclusive lock (GC, rotation; here one of a live local process) it
# is refused with exit 6 instead of reading a vault being collected, and
# a GC that starts while verify runs is deferred.
. "$TOP/tests/hostile/lib_locks.sh"
case_begin verify-lock
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
sleep 120 & GCPID=$!
L=$(hostname | tr A-Z a-z)_${GCPID}_00000000000000aa.exclusive
(umask 077; printf '{"time":%d}' "$(date +%s)" >"v/locks/$L")
check_fails "verify refused while an exclusive lock is held" 6 "$CS" verify --vault v
cp "$WORK/out.log" refusal.log
check "the refusal names the live local holder" grep -q "pid $GCPID (exclusive, taken [0-9]*s ago, its process runs here)" refusal.log
check "a live local lock is not removed" test -e "v/locks/$L"
kill $GCPID; wait $GCPID 2>/dev/null
check "once its process is gone, verify runs (stale lock removed)" "$CS" verify --vault v
check "the stale lock is gone" test ! -e "v/locks/$L"
check "verify leaves no lock behind" bash -c "[ -z \"\$(ls v/locks)\" ]"
# The other side: while a verify (a shared lock of a live process) runs, a
# GC is deferred, and says whose lock it waits for.
sleep 120 & VPID=$!
L=$(hostname | tr A-Z a-z)_${VPID}_00000000000000bb.shared
(umask 077; printf '{"time":%d}' "$(date +%s)" >"v/locks/$L")
check "backup 2" "$CS" backup --vault v --source img --disk d1
"$CS" prune --vault v --keep-last 1 >prune.log 2>&1
check "GC is deferred while a verify holds the vault, naming it" \
	grep -q "garbage collection deferred: .*pid $VPID, shared lock" prune.log
kill $VPID; wait $VPID 2>/dev/null
P=$(last_point v)	# the point prune kept
check "verify after the deferred GC finds nothing damaged" "$CS" verify --vault v
check "a normal backup works" "$CS" backup --vault v --source img --disk d1
check "the kept point still restores" restores_exact v "$P" img
case_end
