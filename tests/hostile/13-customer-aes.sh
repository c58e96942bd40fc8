# Issue 11: "vault init --kek aes.kek" printed customer-managed but recorded
# vault-managed, and a later "key rotate" silently switched to a new
# vault-managed key.  A customer AES KEK is customer-managed for good.
case_begin customer-aes
head -c 4M /dev/urandom >img
head -c 32 /dev/urandom >aes1.kek && chmod 600 aes1.kek
head -c 32 /dev/urandom >aes2.kek && chmod 600 aes2.kek
mode() { "$CS" key show --vault c --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["mode"], d["kek_gen"])'; }
check "vault init --kek aes1.kek" "$CS" vault init c --kek aes1.kek
check "recorded as customer-managed" test "$(mode)" = "customer-managed 1"
check "keyring says customer" grep -q '"mode":"customer"' c/keys.json
check "backup" "$CS" backup --vault c --source img --disk d1
P=$(last_point c)
check_fails "key rotate without a new customer key is refused (exit 4)" 4 "$CS" key rotate --vault c
check "still customer-managed, generation 1" test "$(mode)" = "customer-managed 1"
check "no vault-managed key file was made" test -z "$(ls "$CRYPTSNAP_KEY_DIR" 2>/dev/null)"
check "key rotate --kek aes2.kek" "$CS" key rotate --vault c --kek aes2.kek
check "customer-managed, generation 2" test "$(mode)" = "customer-managed 2"
check "the customer's old key file is not deleted" test -s aes1.kek
check_fails "the old key no longer opens the vault (exit 4)" 4 "$CS" points --vault c --kek aes1.kek
check_fails "rotating to a vault-managed key is still refused (exit 4)" 4 "$CS" key rotate --vault c
# Older builds wrote such a vault's keyring as vault-managed.  A host
# without a pin (or upgraded from such a build) opens it only with the
# customer's key named, pins it customer-managed, and keeps it so.
python3 - <<'PY'
import json
k = json.load(open("c/keys.json")); k["mode"] = "vault"
json.dump(k, open("c/keys.json", "w"))
PY
export CRYPTSNAP_STATE_DIR=$WORK/state-old
check_fails "no pin, keyring says vault-managed, no key file here: refused (exit 4)" 4 \
	"$CS" points --vault c
check "opens with the customer's key named" "$CS" points --vault c --kek aes2.kek
check "and is pinned customer-managed" test "$(mode)" = "customer-managed 2"
check_fails "rotation to a vault-managed key is refused (exit 4)" 4 "$CS" key rotate --vault c
export CRYPTSNAP_STATE_DIR=$WORK/state
check "kept point still restores" restores_exact c "$P" img
check "one step past: a new backup works" "$CS" backup --vault c --source img --disk d1
check "and restores byte for byte" restores_exact c "$(last_point c)" img
case_end
