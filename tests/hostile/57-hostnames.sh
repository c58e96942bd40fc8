# Host names are normalised the same way when a lock or job record is
# written and when it is compared with this host: on a host named
# "Build01.EXAMPLE." (upper case, trailing dot) the tool writes
# "build01.example", recognises a lock of a dead local process under that
# name as stale, and a live one as its own host's.  Runs in a private UTS
# namespace so the real host name is not touched.
case_begin hostnames
head -c 4M /dev/urandom >img
check "vault init" "$CS" vault init v
if unshare --uts bash -c 'printf %s x >/proc/sys/kernel/hostname' 2>/dev/null; then
	# hostname(1) refuses a trailing dot; the kernel takes it.
	as_host() { unshare --uts bash -c 'printf %s "Build01.EXAMPLE." >/proc/sys/kernel/hostname && exec "$@"' as_host "$@"; }
	true & DEAD=$!; wait $DEAD
	mkdir -p -m 0700 v/locks
	(umask 077; printf '{"time":%d}' "$(date +%s)" >"v/locks/build01.example_${DEAD}_00000000000000cc.exclusive")
	check "a dead local lock under the normalised name is stale" as_host "$CS" backup --vault v --source img --disk d1
	check "and was removed" test ! -e "v/locks/build01.example_${DEAD}_00000000000000cc.exclusive"
	check "the job record names the normalised host" \
		bash -c "grep -h '\"host\"' v/jobs/*.json | grep -q '\"build01.example\"'"
	sleep 120 & LIVE=$!
	(umask 077; printf '{"time":%d}' "$(date +%s)" >"v/locks/build01.example_${LIVE}_00000000000000dd.exclusive")
	check_fails "a live one is this host's and blocks" 6 as_host "$CS" backup --vault v --source img --disk d1
	cp "$WORK/out.log" refusal.log
	check "the refusal says its process runs here" grep -q "host build01.example pid $LIVE (exclusive, taken [0-9]*s ago, its process runs here)" refusal.log
	check "seen from another host name it is a foreign lock" bash -c "'$CS' lock list --vault v | grep -q 'another host'"
	kill $LIVE; wait $LIVE 2>/dev/null
	check "once its process is gone it is stale here" as_host "$CS" backup --vault v --source img --disk d1
else
	ok "skipped: no UTS namespace here (unshare --uts)"
fi
check "a normal backup works" "$CS" backup --vault v --source img --disk d1
check "and restores" restores_exact v "$(last_point v)" img
case_end
