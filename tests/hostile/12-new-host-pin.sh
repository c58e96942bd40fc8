# Issue 11: opening a vault from a host without a pin.  A vault-managed
# vault is pinned from this host's own root-only key file named after the
# vault id; a customer-managed one only when the KEK is named (--kek); the
# vault never names the file to load.
case_begin new-host-pin
head -c 4M /dev/urandom >img
install -m 0600 "$TOP/tests/unit/data/rsa2048.pem" cust.pem
check "vault init (vault-managed)" "$CS" vault init v
check "vault init (customer RSA)" "$CS" vault init c --kek cust.pem
check "backup v" "$CS" backup --vault v --source img --disk d1
check "backup c" "$CS" backup --vault c --source img --disk d1
VID=$(python3 -c 'import json; print(json.load(open("v/config.json"))["vault_id"])')
check "init pinned the vault (0600 file in a 0700 dir)" bash -c \
	"[ \$(stat -c %a '$CRYPTSNAP_STATE_DIR/vaults/$VID') = 700 ] &&
	 [ \$(stat -c %a '$CRYPTSNAP_STATE_DIR/vaults/$VID/pin.json') = 600 ]"
# A second host: same key directory, no pins.
export CRYPTSNAP_STATE_DIR=$WORK/state2
check "new host: a vault-managed vault opens from the host's key file" "$CS" points --vault v
check "and is pinned then" test -s "$CRYPTSNAP_STATE_DIR/vaults/$VID/pin.json"
check_fails "new host: a customer vault without --kek is refused (exit 4)" 4 "$CS" points --vault c
check "new host: with --kek it opens" "$CS" points --vault c --kek cust.pem
check "then without --kek (pinned)" "$CS" points --vault c
# A third host whose key directory lacks the vault's key file; the vault
# names a file of the attacker's that it must not load.
export CRYPTSNAP_STATE_DIR=$WORK/state3 CRYPTSNAP_KEY_DIR=$WORK/keys3
mkdir -p v/tmp
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out v/tmp/evil.pem 2>/dev/null
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
k = json.load(open(w + "/v/keys.json"))
k["kek_file"] = w + "/v/tmp/evil.pem"
json.dump(k, open(w + "/v/keys.json", "w"))
PY
check_fails "new host without the key file is refused, vault's kek_file ignored (exit 4)" 4 \
	"$CS" points --vault v
check "kept points still restore (host with the key)" bash -c \
	"CRYPTSNAP_STATE_DIR='$WORK/state' CRYPTSNAP_KEY_DIR='$WORK/keys' '$CS' restore --vault v \
	 --point \$(CRYPTSNAP_STATE_DIR='$WORK/state' CRYPTSNAP_KEY_DIR='$WORK/keys' '$CS' points --vault v --json |
	   python3 -c 'import json,sys; print(json.load(sys.stdin)[-1][\"id\"])') --to r.img >/dev/null && cmp -s r.img img"
export CRYPTSNAP_STATE_DIR=$WORK/state CRYPTSNAP_KEY_DIR=$WORK/keys
check "one step past: a new backup works" "$CS" backup --vault v --source img --disk d1
check "and restores byte for byte" restores_exact v "$(last_point v)" img
case_end

# The pin is the host's: one that others may write is not trusted.
case_begin pin-mode
head -c 1M /dev/urandom >img
check "vault init" "$CS" vault init v
VID=$(python3 -c 'import json; print(json.load(open("v/config.json"))["vault_id"])')
chmod 0666 "$CRYPTSNAP_STATE_DIR/vaults/$VID/pin.json"
check_fails "a pin writable by others is refused (exit 4)" 4 "$CS" backup --vault v --source img --disk d1
chmod 0600 "$CRYPTSNAP_STATE_DIR/vaults/$VID/pin.json"
check "one step past: backup works" "$CS" backup --vault v --source img --disk d1
check "and restores byte for byte" restores_exact v "$(last_point v)" img
case_end
