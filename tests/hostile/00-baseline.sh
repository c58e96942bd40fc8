# The harness itself: an untouched vault backs up and restores, and the
# canary check notices a changed file outside the vault.
case_begin baseline
head -c 8M /dev/urandom >img
check "vault init" "$CS" vault init v
check "backup" "$CS" backup --vault v --source img --disk d1
P=$(last_point v)
check "point restores byte for byte" restores_exact v "$P" img
echo x >>"$WORK/outside/canary2"
if canaries_intact >/dev/null 2>&1; then not_ok "canary check sees a change"; else ok "canary check sees a change"; fi
(cd "$WORK/outside" && sha256sum canary1 canary2) >"$WORK/canaries.sum"
case_end
