# Issue 11: an RSA customer key above 8192 bits smashed the stack (wrap
# buffers were 1024 bytes).  RSA keys are accepted from 2048 to 16384 bits,
# buffers sized from the key; outside the range: one line, exit 4.
case_begin rsa-size
D=$TOP/tests/unit/data
head -c 4M /dev/urandom >img
printf 'correct horse battery staple' >pass
check_fails "vault init with a 16392-bit key is refused (exit 4)" 4 \
	"$CS" vault init big --kek "$D/rsa16392-fake.pub.pem"
check "and creates no vault" test ! -e big/config.json
check_fails "vault init with a 1024-bit key is refused (exit 4)" 4 \
	"$CS" vault init small --kek "$D/rsa1024.pem"
install -m 0600 "$D/rsa8704.pem" k8704.pem
check "vault init with an 8704-bit key" "$CS" vault init r --kek k8704.pem
check "backup --escrow-secret under it" \
	"$CS" backup --vault r --source img --disk d1 --escrow-secret pass=pass
P=$(last_point r)
check "the point restores byte for byte" restores_exact r "$P" img
check_fails "key rotate to a 16392-bit key is refused (exit 4)" 4 \
	"$CS" key rotate --vault r --kek "$D/rsa16392-fake.pub.pem"
check "one step past: a new backup works" "$CS" backup --vault r --source img --disk d1
check "and restores byte for byte" restores_exact r "$(last_point r)" img
case_end
