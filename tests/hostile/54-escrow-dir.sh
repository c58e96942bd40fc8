# `restore --escrow-dir` used to write the passphrase into an existing
# 0644 file in a 0755 directory.  Now the directory is created 0700, or an
# existing one must be a real directory owned by us with mode 0700; each
# slot is a new 0600 file (O_CREAT|O_EXCL|O_NOFOLLOW).  Otherwise restore
# refuses (exit 1) before writing anything: no target, no secret.
case_begin escrow-dir
head -c 8M /dev/urandom >img
echo "correct horse battery staple" >pass.txt
check "vault init" "$CS" vault init v
check "backup with an escrowed secret" "$CS" backup --vault v --source img --disk d1 \
	--escrow-secret passphrase=pass.txt
P=$(last_point v)
mkdir -m 0755 open-dir
check_fails "a 0755 directory is refused" 1 "$CS" restore --vault v --point "$P" --to r1.img --escrow-dir open-dir
check "nothing written into it" test -z "$(ls -A open-dir)"
check "and no target written" test ! -e r1.img
mkdir -m 0700 planted && (umask 022; : >planted/passphrase) && chmod 644 planted/passphrase
check_fails "an existing 0644 file in the directory is refused" 1 "$CS" restore --vault v --point "$P" --to r2.img --escrow-dir planted
check "the planted file stays empty" test ! -s planted/passphrase
check "and no target written" test ! -e r2.img
mkdir -m 0700 linked && ln -s "$WORK/outside/canary1" linked/passphrase
check_fails "a symlink in the directory is not followed" 1 "$CS" restore --vault v --point "$P" --to r3.img --escrow-dir linked
ln -s "$WORK/outside" dirlink
check "and no target written" test ! -e r3.img
check_fails "a symlink as the directory is refused" 1 "$CS" restore --vault v --point "$P" --to r4.img --escrow-dir dirlink
check "nothing written through it" test ! -e "$WORK/outside/passphrase"
mkdir -m 0700 notours && chown 65534 notours
check_fails "a directory owned by another user is refused" 1 "$CS" restore --vault v --point "$P" --to r5.img --escrow-dir notours
check "a fresh directory works" "$CS" restore --vault v --point "$P" --to r6.img --escrow-dir fresh
check "it is 0700, the file 0600" test "$(stat -c %a fresh)/$(stat -c %a fresh/passphrase)" = 700/600
check "the passphrase is intact" cmp pass.txt fresh/passphrase
check "the point restored exactly" cmp img r6.img
check_fails "a second restore into it does not overwrite" 1 "$CS" restore --vault v --point "$P" --to r7.img --escrow-dir fresh
mkdir -m 0700 mine
check "an existing empty 0700 directory of ours works" "$CS" restore --vault v --point "$P" --to r8.img --escrow-dir mine
check "a normal backup works" "$CS" backup --vault v --source img --disk d1
check "the kept point still restores" restores_exact v "$P" img
case_end
