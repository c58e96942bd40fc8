# Secrets in memory: every run is non-dumpable with a core limit of 0,
# whatever limits it was started with; a command that handles key
# material refuses to run (exit 1, one line) when its memory cannot be
# locked, instead of letting keys reach swap.  Commands without keys
# (jobs, lock list) still run.
case_begin secmem
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
bash -c "ulimit -c unlimited; '$CS' version --hardening" >hardening.txt 2>&1
check "the process is not dumpable" grep -qx "dumpable 0" hardening.txt
check "its core limit is 0 even under ulimit -c unlimited" grep -qx "core-limit 0" hardening.txt
check "root can lock key memory" grep -qx "memory-lock ok" hardening.txt
# No CAP_IPC_LOCK and RLIMIT_MEMLOCK 0: mlock fails.
nolock() { setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock bash -c 'ulimit -l 0; exec "$@"' nolock "$@"; }
if command -v setpriv >/dev/null && nolock true 2>/dev/null; then
	(cd v && find . -type f | sort | xargs sha256sum) >vault.sum
	check_fails "backup refused when key memory cannot be locked" 1 nolock "$CS" backup --vault v --source img --disk d1
	cp "$WORK/out.log" refusal.log
	check "the refusal says why" grep -q "cannot lock memory for key material" refusal.log
	check_fails "restore refused too" 1 nolock "$CS" restore --vault v --point "$P" --to r.img
	check "no target written" test ! -e r.img
	check_fails "verify refused too" 1 nolock "$CS" verify --vault v
	check "the vault did not change" bash -c "cd v && sha256sum --quiet -c ../vault.sum && [ \$(find . -type f | wc -l) = \$(wc -l <../vault.sum) ]"
	check "jobs (no keys) still runs" nolock "$CS" jobs --vault v
	check "lock list (no keys) still runs" nolock "$CS" lock list --vault v
	nolock "$CS" version --hardening >hardening.txt 2>&1
	check "version --hardening reports the failure" grep -q "^memory-lock fails" hardening.txt
else
	ok "skipped the mlock refusal checks: setpriv cannot drop CAP_IPC_LOCK here"
fi
check "a normal backup works" "$CS" backup --vault v --source img --disk d1
check "the kept point restores" restores_exact v "$P" img
case_end
