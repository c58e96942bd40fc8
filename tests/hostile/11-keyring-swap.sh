# Issue 11: keys.json named its own KEK file and fingerprint, so a vault
# writer could swap in a keyring built around a key of theirs (placed in
# VAULT/tmp/), and the next backup --escrow-secret wrapped the passphrase
# with it.  The host pins KEK and keyring: a swapped keyring is refused
# (exit 4) before anything is wrapped.
case_begin keyring-swap
head -c 4M /dev/urandom >img
printf 'correct horse battery staple' >pass
check "vault init (vault-managed)" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
cp v/keys.json keys.orig
# The attacker, on a machine of theirs: a key in the vault's tmp/, and a
# keyring around it that names that file.
mkdir -p v/tmp
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out v/tmp/evil.pem 2>/dev/null
CRYPTSNAP_STATE_DIR=$WORK/attacker CRYPTSNAP_KEY_DIR=$WORK/attacker/keys \
	"$CS" vault init evil --kek v/tmp/evil.pem >/dev/null
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
k = json.load(open(w + "/evil/keys.json"))
k["kek_file"] = w + "/v/tmp/evil.pem"
json.dump(k, open(w + "/v/keys.json", "w"))
PY
npoints() { ls v/points | wc -l; }
check_fails "backup --escrow-secret with a swapped keyring is refused (exit 4)" 4 \
	"$CS" backup --vault v --source img --disk d1 --escrow-secret pass=pass
check "no point was written" test "$(npoints)" = 1
check_fails "points with a swapped keyring is refused (exit 4)" 4 "$CS" points --vault v
check_fails "key rotate with a swapped keyring is refused (exit 4)" 4 "$CS" key rotate --vault v
check_fails "naming the attacker's key with --kek is refused too (exit 4)" 4 \
	"$CS" points --vault v --kek v/tmp/evil.pem
# The keyring's own mode flipped: the host's pin decides, and refuses.
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
k = json.load(open(w + "/keys.orig")); k["mode"] = "customer"
json.dump(k, open(w + "/v/keys.json", "w"))
PY
check_fails "a keyring whose mode differs from the pin is refused (exit 4)" 4 "$CS" points --vault v
cp keys.orig v/keys.json
check "kept point still restores" restores_exact v "$P" img
check "one step past: backup --escrow-secret works" \
	"$CS" backup --vault v --source img --disk d1 --escrow-secret pass=pass
check "and restores byte for byte" restores_exact v "$(last_point v)" img
case_end

# Same attack on a customer RSA vault with the customer's own public key:
# the fingerprint matches, but the DEKs and MAC key are the attacker's.
case_begin keyring-swap-same-public-key
head -c 4M /dev/urandom >img
printf 'correct horse battery staple' >pass
install -m 0600 "$TOP/tests/unit/data/rsa2048.pem" cust.pem
check "vault init (customer RSA)" "$CS" vault init c --kek cust.pem
check "backup" "$CS" backup --vault c --source img --disk d1
P=$(last_point c)
cp c/keys.json keys.orig
CRYPTSNAP_STATE_DIR=$WORK/attacker CRYPTSNAP_KEY_DIR=$WORK/attacker/keys \
	"$CS" vault init evil --kek "$TOP/tests/unit/data/rsa2048.pub.pem" >/dev/null
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
k = json.load(open(w + "/evil/keys.json"))
k["kek_file"] = w + "/cust.pem"	# what older builds loaded
json.dump(k, open(w + "/c/keys.json", "w"))
PY
check_fails "backup --escrow-secret with attacker DEKs under the customer's key is refused (exit 4)" 4 \
	"$CS" backup --vault c --source img --disk d1 --escrow-secret pass=pass
check "no point was written" test "$(ls c/points | wc -l)" = 1
cp keys.orig c/keys.json
check "kept point still restores" restores_exact c "$P" img
check "one step past: a new backup works" "$CS" backup --vault c --source img --disk d1
check "and restores byte for byte" restores_exact c "$(last_point c)" img
case_end
