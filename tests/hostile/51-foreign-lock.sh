# A planted lock of another host used to block every backup forever, with
# nothing saying whose it was.  Now the refusal (exit 6) shows host, pid,
# kind and age and the command that breaks it; `lock list` shows it; `lock
# break` removes exactly that lock and nothing else.  Lock names come from
# the vault: one that is not exactly a lock name (path components, an
# unnormalised host) is neither obeyed nor deleted, and `lock break`
# refuses it (exit 2).
case_begin foreign-lock
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
L=far-away.example_4242_0123456789abcdef.exclusive
(umask 077; printf '{"time":%d}' $(( $(date +%s) - 7200 )) >"v/locks/$L")
check_fails "backup refused by a foreign exclusive lock" 6 "$CS" backup --vault v --source img --disk d1
cp "$WORK/out.log" refusal.log
check "the refusal shows host, pid, kind and age" \
	grep -q "host far-away.example pid 4242 (exclusive, taken 2h ago, another host)" refusal.log
check "the refusal says how to break it" grep -q "cryptsnap lock break --vault .* $L" refusal.log
check_fails "restore refused by it too" 6 "$CS" restore --vault v --point "$P" --to r.img
check "lock list shows it" bash -c "'$CS' lock list --vault v | grep -q '^$L .*far-away.example .*4242 exclusive'"
check "lock list --json shows it" bash -c "'$CS' lock list --vault v --json | python3 -c 'import json,sys; l=json.load(sys.stdin); assert l[0][\"host\"]==\"far-away.example\" and l[0][\"pid\"]==4242 and not l[0][\"local\"]'"
# Names that are not lock names: ignored by every command, never deleted.
SUB=v/locks/sub/far-away.example_1_0123456789abcdef.exclusive
(umask 077; mkdir v/locks/sub; : >"$SUB"; : >"v/locks/FAR-AWAY_1_0123456789abcdef.exclusive"; : >v/locks/junk)
check_fails "lock break refuses a name with a path component" 2 "$CS" lock break --vault v ../keys
check_fails "lock break refuses a lock name under a subdirectory" 2 "$CS" lock break --vault v sub/far-away.example_1_0123456789abcdef.exclusive
check_fails "lock break refuses an unnormalised host" 2 "$CS" lock break --vault v FAR-AWAY_1_0123456789abcdef.exclusive
check_fails "lock break of a lock that is not there" 3 "$CS" lock break --vault v far-away.example_1_0123456789abcdef.shared
check_fails "lock with no verb is a usage error" 2 "$CS" lock
check_fails "lock break without a name is a usage error" 2 "$CS" lock break --vault v
check_fails "lock list without --vault is a usage error" 2 "$CS" lock list
check "lock break removes the foreign lock" "$CS" lock break --vault v "$L"
check "it is gone" test ! -e "v/locks/$L"
check "objects that are not lock names stay, untouched" \
	test -e "$SUB" -a -e "v/locks/FAR-AWAY_1_0123456789abcdef.exclusive" -a -e v/locks/junk
check "lock list counts them as ignored" bash -c "'$CS' lock list --vault v | grep -q '^3 object(s) under locks/ are not lock names'"
check "a normal backup works (ignored names do not block)" "$CS" backup --vault v --source img --disk d1
check "the kept point still restores" restores_exact v "$P" img
check "the new point restores" restores_exact v "$(last_point v)" img
case_end
