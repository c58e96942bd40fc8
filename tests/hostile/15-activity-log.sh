# Issue 11: the activity log of key changes was plain JSON, forgeable.
# Events are now chained by HMAC under a key derived from the vault keys,
# and the host remembers the newest event it wrote: an edited, removed,
# planted or truncated log makes "key show" fail with exit 5.
case_begin activity-log
head -c 4M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
check "key rotate" "$CS" key rotate --vault v
check "key show verifies the log" "$CS" key show --vault v
check "init and rotation are in it" bash -c \
	"'$CS' key show --vault v | grep -q ' init ' && '$CS' key show --vault v | grep -q ' key-rotate '"
cp -a v/log log.orig
newest=$(ls v/log | sort | tail -1)
oldest=$(ls v/log | sort | head -1)
python3 - "v/log/$oldest" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); e["detail"] = "customer-managed"
json.dump(e, open(sys.argv[1], "w"))
PY
check_fails "an edited event is reported (exit 5)" 5 "$CS" key show --vault v
rm -rf v/log && cp -a log.orig v/log
rm "v/log/$newest"
check_fails "a removed newest event is reported (exit 5)" 5 "$CS" key show --vault v
rm -rf v/log && cp -a log.orig v/log
python3 - v/log "$newest" <<'PY'
import json, sys, os
d, newest = sys.argv[1], sys.argv[2]
e = json.load(open(os.path.join(d, newest)))
e["seq"] += 1; e["event"] = "key-rotate"; e["detail"] = "gen 9, vault-managed"
e["prev"] = e["mac"]; e["mac"] = "00" * 32
json.dump(e, open(os.path.join(d, "%012d-00000000.json" % e["seq"]), "w"))
PY
check_fails "a planted event is reported (exit 5)" 5 "$CS" key show --vault v
rm -rf v/log && cp -a log.orig v/log
echo '{"time": 1, "event": "key-rotate", "detail": "planted, old format"}' \
	>v/log/20200101T000000Z-deadbeef.json
check "an event in the older unauthenticated format is marked as such" bash -c \
	"'$CS' key show --vault v | grep 'planted, old format' | grep -q unauthenticated"
rm -f v/log/20200101T000000Z-deadbeef.json
check "the log verifies again" "$CS" key show --vault v
check "kept point still restores" restores_exact v "$P" img
check "one step past: a new backup works" "$CS" backup --vault v --source img --disk d1
check "and restores byte for byte" restores_exact v "$(last_point v)" img
case_end
