// SPDX-License-Identifier: GPL-2.0
/* KEK bounds, the keyring's mode and digest, OpenSSL's secure heap
 * (issue 11, "Keys with a lifetime" and "Trust anchored on the host"). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"

static const uint8_t vid[VAULT_ID_LEN] = { 0x76, 0x61, 0x75, 0x6c, 0x74, 1, 2, 3 };

/* RSA from 2048 to 16384 bits; the 8704-bit key smashed a
 * 1024-byte stack buffer, now it wraps and unwraps. */
static void test_rsa_bounds(void **state)
{
	uint8_t in[CRYPTO_KEY_LEN], w[KEK_WRAP_MAX], small[1024], out[64];
	struct vault_kek *k;
	size_t wn, n;

	memset(in, 0x5a, sizeof(in));
	assert_int_equal(kek_load("data/rsa1024.pem", &k), -ERANGE);
	assert_int_equal(kek_load("data/rsa16392-fake.pub.pem", &k), -ERANGE);

	assert_int_equal(kek_load("data/rsa8704.pem", &k), 0);
	assert_int_equal(k->type, KEK_TYPE_RSA);
	assert_int_equal(kek_wrap(k, in, sizeof(in), small, sizeof(small), &wn), -EMSGSIZE);
	assert_int_equal(kek_wrap(k, in, sizeof(in), w, sizeof(w), &wn), 0);
	assert_int_equal(wn, 8704 / 8);
	assert_int_equal(kek_unwrap(k, w, wn, out, &n, sizeof(out)), 0);
	assert_int_equal(n, sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	w[10] ^= 1;
	assert_int_equal(kek_unwrap(k, w, wn, out, &n, sizeof(out)), -EBADMSG);
	kek_free(k);

	/* The largest accepted key fills KEK_WRAP_MAX exactly. */
	assert_int_equal(kek_load("data/rsa16384-fake.pub.pem", &k), 0);
	assert_int_equal(kek_wrap(k, in, sizeof(in), w, sizeof(w), &wn), 0);
	assert_int_equal(wn, KEK_WRAP_MAX);
	assert_int_equal(kek_wrap(k, in, sizeof(in), w, sizeof(w) - 1, &wn), -EMSGSIZE);
	kek_free(k);
}

static struct vault_kek *aes_kek(char *dir, char *path)
{
	struct vault_kek *k;

	snprintf(dir, 64, "/tmp/cs-kek-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(kek_generate(dir, "00112233445566778899aabbccddeeff", 1, path,
				      256, &k), 0);
	assert_int_equal(k->type, KEK_TYPE_AES);
	return k;
}

static void rm_kek(const char *dir, const char *path)
{
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A customer AES key is recorded as customer-managed; an RSA key can never
 * be a vault-managed KEK. */
static void test_keyring_mode(void **state)
{
	struct vault_keys *keys, *peek;
	struct vault_kek *k, *rsa;
	char dir[64], path[256], *s;
	size_t n;

	k = aes_kek(dir, path);
	assert_int_equal(keys_create(k, KEK_MODE_CUSTOMER, vid, path, &keys), 0);
	assert_int_equal(keys_encode(keys, &s, &n), 0);
	assert_null(strstr(s, path));	/* no host path in the vault */
	assert_int_equal(keys_peek(s, n, &peek), 0);
	assert_int_equal(peek->mode, KEK_MODE_CUSTOMER);
	keys_free(peek);
	free(s);
	keys_free(keys);

	assert_int_equal(kek_load("data/rsa2048.pem", &rsa), 0);
	assert_int_equal(keys_create(rsa, KEK_MODE_VAULT, vid, "x", &keys), -EINVAL);
	kek_free(rsa);
	rm_kek(dir, path);
}

/* The digest a host pins changes with every DEK, the generation and the
 * KEK, and a keyring opened again has the same one. */
static void test_keyring_digest(void **state)
{
	uint8_t d1[KEYS_DIGEST_LEN], d2[KEYS_DIGEST_LEN];
	struct vault_keys *keys, *again;
	struct vault_kek *k, *k2;
	char dir[64], path[256], *s;
	size_t n;

	k = aes_kek(dir, path);
	assert_int_equal(keys_create(k, KEK_MODE_VAULT, vid, path, &keys), 0);
	assert_int_equal(keys_digest(keys, d1), 0);
	assert_int_equal(keys_encode(keys, &s, &n), 0);
	assert_int_equal(kek_load(path, &k2), 0);
	assert_int_equal(keys_open(s, n, vid, k2, path, &again), 0);
	assert_int_equal(keys_digest(again, d2), 0);
	assert_memory_equal(d1, d2, sizeof(d1));
	again->dek[0][0] ^= 1;
	assert_int_equal(keys_digest(again, d2), 0);
	assert_memory_not_equal(d1, d2, sizeof(d1));
	again->dek[0][0] ^= 1;
	again->gen++;
	assert_int_equal(keys_digest(again, d2), 0);
	assert_memory_not_equal(d1, d2, sizeof(d1));
	keys_free(again);
	/* A different KEK with the keyring's fingerprint never unwraps. */
	assert_int_equal(kek_load("data/rsa2048.pem", &k2), 0);
	assert_int_equal(keys_open(s, n, vid, k2, path, &again), -EKEYREJECTED);
	free(s);
	keys_free(keys);
	rm_kek(dir, path);
}

/* kek_generate leaves a 0600 file holding exactly the key. */
static void test_generate_mode(void **state)
{
	char dir[64], path[256];
	struct vault_kek *k = aes_kek(dir, path), *k2;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, CRYPTO_KEY_LEN);
	assert_int_equal(kek_load(path, &k2), 0);
	assert_memory_equal(k->fp, k2->fp, KEK_FP_LEN);
	kek_free(k2);
	kek_free(k);
	rm_kek(dir, path);
}

/* With the secure heap set up, a private RSA key's parts live in it. */
static void test_secure_heap(void **state)
{
	struct crypto_rsa *priv, *pub;
	size_t before, with_pub, with_priv;

	assert_int_equal(crypto_secure_heap_init(), 0);
	before = crypto_secure_heap_used();
	assert_int_equal(crypto_rsa_load("data/rsa2048.pub.pem", &pub), 0);
	with_pub = crypto_secure_heap_used();
	assert_int_equal(with_pub, before);
	assert_int_equal(crypto_rsa_load("data/rsa2048.pem", &priv), 0);
	with_priv = crypto_secure_heap_used();
	/* d, p, q, dP, dQ, qInv of a 2048-bit key: at least 5 * 128 bytes. */
	assert_true(with_priv >= before + 640);
	crypto_rsa_free(priv);
	assert_int_equal(crypto_secure_heap_used(), before);
	crypto_rsa_free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_bounds),
		cmocka_unit_test(test_keyring_mode),
		cmocka_unit_test(test_keyring_digest),
		cmocka_unit_test(test_generate_mode),
		cmocka_unit_test(test_secure_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
