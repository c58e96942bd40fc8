# jobs/ grew by one record per job for ever.  Now starting a job keeps the
# newest 100 records (the new one included) and deletes older ones, except
# a record of a job still running.  Only names exactly of the job-id form
# are counted or deleted: anything else planted there is left alone.
case_begin jobs-bound
head -c 4M /dev/urandom >img
check "vault init" "$CS" vault init v
sleep 120 & LIVE=$!
HOST=$(hostname | tr A-Z a-z)
python3 - v "$LIVE" "$HOST" <<'PY'
import json, os, sys
v, live, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(v + "/jobs", mode=0o700, exist_ok=True)
def put(name, rec):
    with open(os.path.join(v, "jobs", name), "w") as f: json.dump(rec, f)
    os.chmod(os.path.join(v, "jobs", name), 0o600)
put("20190101T000000Z-00000000.json", {"id": "20190101T000000Z-00000000", "state": "running",
    "host": host, "pid": live, "type": "backup"})
for i in range(150):
    put("20200101T%02d%02d00Z-%08x.json" % (i // 60, i % 60, i), {"id": "x", "state": "done",
        "host": "elsewhere", "pid": 1, "type": "backup"})
put("notes.txt", {"keep": "me"})
put("2020.json", {"keep": "me"})
PY
check "backup" "$CS" backup --vault v --source img --disk d1
count() { ls v/jobs | grep -Ec '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\.json$'; }
check "100 records kept, plus the running one" test "$(count)" = 101
check "the running job's record is kept" test -e v/jobs/20190101T000000Z-00000000.json
check "the oldest finished records went" test ! -e v/jobs/20200101T000000Z-00000000.json
check "the newest planted record stays" test -e v/jobs/20200101T022900Z-00000095.json
check "names that are not job ids are left alone" test -e v/jobs/notes.txt -a -e v/jobs/2020.json
kill $LIVE; wait $LIVE 2>/dev/null
check "another backup" "$CS" backup --vault v --source img --disk d1
check "still 100 records once that job is over" test "$(count)" = 100
check "jobs lists them" bash -c "[ \$('$CS' jobs --vault v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -ge 100 ]"
check "the point restores" restores_exact v "$(last_point v)" img
case_end
