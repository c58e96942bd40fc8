# Numbers on the command line are parsed strictly: `prune --keep-daily
# seven` used to be read as 0 next to the other rules, sizes wrapped
# silently.  Every malformed, signed or overflowing number is refused with
# one line naming the option and exit 2, before anything is changed.
case_begin strict-numbers
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup 1" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
check "backup 2" "$CS" backup --vault v --source img --disk d1
check_fails "prune --keep-daily seven" 2 "$CS" prune --vault v --keep-last 1 --keep-daily seven
cp "$WORK/out.log" refusal.log
check "the refusal names the option" grep -q -- "--keep-daily 'seven': not a number" refusal.log
check_fails "prune --keep-last 4294967297 (atoi: 1)" 2 "$CS" prune --vault v --keep-last 4294967297
check_fails "prune --keep-last -1" 2 "$CS" prune --vault v --keep-last -1
check_fails "prune --keep-weekly ' 1'" 2 "$CS" prune --vault v --keep-weekly ' 1'
check_fails "prune --now yesterday" 2 "$CS" prune --vault v --keep-last 1 --now yesterday
check_fails "prune with a stray argument" 2 "$CS" prune --vault v --keep-last 1 extra
check "both points are still there" test "$("$CS" points --vault v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
check_fails "backup --threads 0" 2 "$CS" backup --vault v --source img --disk d1 --threads 0
check_fails "backup --threads 4x" 2 "$CS" backup --vault v --source img --disk d1 --threads 4x
check_fails "restore --threads 99999999999" 2 "$CS" restore --vault v --point "$P" --to r.img --threads 99999999999
check "restore wrote nothing" test ! -e r.img
check_fails "vault init --chunk-size 16384P (wraps to 0)" 2 "$CS" vault init v2 --chunk-size 16384P
check_fails "vault init --chunk-size 1.5M" 2 "$CS" vault init v2 --chunk-size 1.5M
check "no vault was created" test ! -e v2
check_fails "protect --cow-size 17179869184G (wraps)" 2 "$CS" protect /dev/null --vault v --cow-size 17179869184G
check_fails "protect --chunk-size 3K" 2 "$CS" protect /dev/null --vault v --chunk-size 3K
check_fails "backup DISK --cow-size 99999999999999999999" 2 "$CS" backup d1 --cow-size 99999999999999999999
check "prune with good rules works" "$CS" prune --vault v --keep-last 1
check "one point is left" test "$("$CS" points --vault v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
check "a normal backup works" "$CS" backup --vault v --source img --disk d1 --threads 2
check "and restores" restores_exact v "$(last_point v)" img
case_end
