# Issue 11: a planted rotation.json names host files by path; the next
# prune or key rotate must neither delete them nor the vault's own KEK.
# The journal says only a generation now; which key files may be removed
# comes from the host's pin.
case_begin rotation-journal
head -c 4M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
VID=$(python3 -c 'import json; print(json.load(open("v/config.json"))["vault_id"])')
KEK=$CRYPTSNAP_KEY_DIR/$VID-1.kek
# "Committed" form (new_gen = the keyring's): old code unlinked old_file.
cat >v/rotation.json <<J
{"new_gen": 1, "generated": true, "new_file": "$WORK/outside/canary1",
 "old_generated": true, "old_file": "$KEK"}
J
check "prune with a planted committed journal succeeds" "$CS" prune --vault v
check "the vault's live KEK file is still there" test -s "$KEK"
check "the planted journal is gone" test ! -e v/rotation.json
# "Uncommitted" form (another generation): old code unlinked new_file.
cat >v/rotation.json <<J
{"new_gen": 7, "generated": true, "new_file": "$WORK/outside/canary1",
 "old_generated": true, "old_file": "$WORK/outside/canary2"}
J
check "prune with a planted uncommitted journal succeeds" "$CS" prune --vault v
cat >v/rotation.json <<J
{"new_gen": 2, "generated": true, "new_file": "$WORK/outside/canary2",
 "old_generated": true, "old_file": "$WORK/outside/canary1"}
J
check "key rotate with a planted journal succeeds" "$CS" key rotate --vault v
check "the rotation retired only the vault's own old key file" \
	bash -c "test ! -e '$KEK' && test -s '$CRYPTSNAP_KEY_DIR/$VID-2.kek'"
# A journal that is not even JSON: refused, nothing deleted.
echo '{"new_gen": "../../x"' >v/rotation.json
check_fails "a malformed journal is refused (exit 5)" 5 "$CS" key rotate --vault v
rm -f v/rotation.json
check "kept point still restores" restores_exact v "$P" img
head -c 4M /dev/urandom >img2
check "one step past: a new backup works" "$CS" backup --vault v --source img2 --disk d1
check "and restores byte for byte" restores_exact v "$(last_point v)" img2
case_end
