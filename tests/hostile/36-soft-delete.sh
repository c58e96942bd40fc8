# Soft delete and the retention lock (issue 17) against a vault writer.
# The grace period and the lock live in config.json, which anyone who can
# write the vault can change; the host's pin keeps what it saw.  A vault
# writer who sets the grace to 0 and removes the lock must not make GC
# purge a deleted point early, nor let this tool shorten the grace; a
# manifest marked deleted needs the vault's keys, so a planted "deleted"
# cannot make GC drop a point that is kept.
case_begin soft-delete
head -c 8M /dev/urandom >img1
cp img1 img2 && head -c 1M /dev/urandom | dd of=img2 bs=1M seek=2 conv=notrunc status=none
check "vault init --deleted-grace 30 --lock-retention" "$CS" vault init v --deleted-grace 30 --lock-retention
check "backup 1" "$CS" backup --vault v --source img1 --disk d1
P1=$(last_point v)
check "backup 2" "$CS" backup --vault v --source img2 --disk d1
P2=$(last_point v)
check "prune deletes point 1" "$CS" prune --vault v --keep-last 1
# The vault writer: grace 0, lock gone.
python3 - v/config.json <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["deleted_grace"] = 0; c.pop("retention_lock", None)
open(p, "w").write(json.dumps(c))
PY
check "prune 2 days later keeps the deleted point (pinned grace 30 days)" \
	"$CS" prune --vault v --keep-last 1 --now "@$(( $(date +%s) + 2 * 86400 ))"
check "point 1 is still listed as deleted" bash -c "'$CS' points --vault v --deleted | grep -q '^$P1 '"
check "vault retention still says locked, 30 days" \
	bash -c "'$CS' vault retention --vault v | tr '\n' ' ' | grep -q 'deleted-grace 30 days retention-lock on'"
check_fails "a shorter grace is still refused (exit 1)" 1 "$CS" vault retention --vault v --deleted-grace 1
check "undelete point 1" "$CS" undelete "$P1" --vault v
check "point 1 restores byte for byte" restores_exact v "$P1" img1
# A planted "deleted" marker: the manifest is sealed, so editing its bytes
# makes it unreadable, and GC refuses rather than drop what the point needs.
cp "v/points/$P2.point" p2.saved
printf 'deleted' | dd of="v/points/$P2.point" bs=1 seek=40 conv=notrunc status=none
check_fails "prune with a tampered manifest refuses (exit 5)" 5 "$CS" prune --vault v --keep-last 5 --now "@$(( $(date +%s) + 400 * 86400 ))"
cp p2.saved "v/points/$P2.point"
check "point 2 restores byte for byte" restores_exact v "$P2" img2
check "pin records the lock" grep -q '"locked":true' "state/vaults/$(python3 -c 'import json; print(json.load(open("v/config.json"))["vault_id"])')/pin.json"
case_end
