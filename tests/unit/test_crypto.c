// SPDX-License-Identifier: GPL-2.0
/* Known-answer and negative tests of crypto.c and the KEK layer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_kek.h"

static void unhex(const char *h, uint8_t *out, size_t *len)
{
	*len = strlen(h) / 2;
	assert_int_equal(hex_decode(h, out, *len), 0);
}

/* RFC 5649 section 6, both vectors (192-bit KEK). */
static void test_kwp_rfc5649(void **state)
{
	static const struct { const char *key, *wrapped; } v[] = {
		{ "c37b7e6492584340bed12207808941155068f738",
		  "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a" },
		{ "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f" },
	};
	uint8_t kek[24], key[64], want[64], out[64], back[64];
	size_t n, klen, wlen, blen;
	unsigned int i;

	unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", kek, &n);
	for (i = 0; i < 2; i++) {
		unhex(v[i].key, key, &klen);
		unhex(v[i].wrapped, want, &wlen);
		assert_int_equal(crypto_kwp_wrap_ex(kek, 24, key, klen, out, &n), 0);
		assert_int_equal(n, wlen);
		assert_memory_equal(out, want, wlen);
		assert_int_equal(crypto_kwp_unwrap_ex(kek, 24, want, wlen, back, &blen), 0);
		assert_int_equal(blen, klen);
		assert_memory_equal(back, key, klen);
	}
}

/* AES-256 KWP, cross-checked against pyca/cryptography. */
static void test_kwp_256(void **state)
{
	uint8_t kek[32], key[32], want[40], out[48], back[48];
	size_t n, i;

	for (i = 0; i < 32; i++) {
		kek[i] = (uint8_t)i;
		key[i] = (uint8_t)(i + 16);
	}
	unhex("1342d391b7da2b586c62f2b480419e5ddb083938ad38a1e8"
	      "462b68869a9168a48117881652d31a17", want, &n);
	assert_int_equal(crypto_kwp_wrap(kek, key, 32, out, &n), 0);
	assert_int_equal(n, 40);
	assert_memory_equal(out, want, 40);
	/* Any flipped bit fails the integrity check. */
	out[5] ^= 1;
	assert_int_equal(crypto_kwp_unwrap(kek, out, 40, back, &n), -EBADMSG);
	out[5] ^= 1;
	kek[0] ^= 1;
	assert_int_equal(crypto_kwp_unwrap(kek, out, 40, back, &n), -EBADMSG);
	assert_int_equal(crypto_kwp_unwrap(kek, out, 7, back, &n), -EBADMSG);
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf = malloc(8192);

	assert_non_null(f);
	*len = fread(buf, 1, 8192, f);
	fclose(f);
	return buf;
}

/* Fixed key and ciphertext made once with `openssl pkeyutl` (OAEP,
 * SHA-256 + MGF1-SHA-256), committed under data/. */
static void test_rsa_known_answer(void **state)
{
	struct crypto_rsa *k;
	uint8_t out[512];
	size_t clen, plen, n;
	uint8_t *ct = slurp("data/oaep-sha256.bin", &clen);
	uint8_t *pt = slurp("data/oaep.plain", &plen);

	assert_int_equal(crypto_rsa_load("data/rsa2048.pem", &k), 0);
	assert_int_equal(crypto_rsa_bits(k), 2048);
	assert_int_equal(crypto_rsa_unwrap(k, ct, clen, out, &n, sizeof(out)), 0);
	assert_int_equal(n, plen);
	assert_memory_equal(out, pt, plen);
	ct[100] ^= 0x40;
	assert_int_equal(crypto_rsa_unwrap(k, ct, clen, out, &n, sizeof(out)), -EBADMSG);
	crypto_rsa_free(k);
	free(ct);
	free(pt);
}

static void test_rsa_roundtrip_and_public_only(void **state)
{
	struct crypto_rsa *priv, *pub;
	uint8_t fp1[32], fp2[32], in[32] = { 1, 2, 3 }, w[512], out[64];
	size_t wn, n;

	assert_int_equal(crypto_rsa_load("data/rsa2048.pem", &priv), 0);
	assert_int_equal(crypto_rsa_load("data/rsa2048.pub.pem", &pub), 0);
	assert_int_equal(crypto_rsa_fingerprint(priv, fp1), 0);
	assert_int_equal(crypto_rsa_fingerprint(pub, fp2), 0);
	assert_memory_equal(fp1, fp2, 32);
	assert_false(crypto_rsa_has_private(pub));
	assert_int_equal(crypto_rsa_wrap(pub, in, 32, w, sizeof(w), &wn), 0);
	assert_int_equal(wn, 256);
	assert_int_equal(crypto_rsa_unwrap(pub, w, wn, out, &n, sizeof(out)), -EKEYREJECTED);
	assert_int_equal(crypto_rsa_unwrap(priv, w, wn, out, &n, sizeof(out)), 0);
	assert_memory_equal(out, in, 32);
	assert_int_equal(crypto_rsa_unwrap(priv, w, 100, out, &n, sizeof(out)), -EBADMSG);
	crypto_rsa_free(priv);
	crypto_rsa_free(pub);
}

static void test_kek_rsa_min_bits(void **state)
{
	struct vault_kek *k;

	assert_int_equal(kek_load("data/rsa1024.pem", &k), -ERANGE);
	assert_int_equal(kek_load("data/rsa2048.pem", &k), 0);
	assert_int_equal(k->type, KEK_TYPE_RSA);
	kek_free(k);
	assert_true(kek_load("data/no-such-file", &k) < 0);
}

static void test_gcm(void **state)
{
	uint8_t key[32] = { 7 }, nonce[12] = { 1 }, aad[4] = "abcd";
	uint8_t in[100], ct[100], out[100], tag[16];
	struct crypto_gcm *g;

	memset(in, 0x5a, sizeof(in));
	assert_int_equal(crypto_gcm_new(key, &g), 0);
	assert_int_equal(crypto_gcm_seal(g, nonce, aad, 4, in, 100, ct, tag), 0);
	assert_int_equal(crypto_gcm_open(g, nonce, aad, 4, ct, 100, out, tag), 0);
	assert_memory_equal(in, out, 100);
	aad[0] = 'x';
	assert_int_equal(crypto_gcm_open(g, nonce, aad, 4, ct, 100, out, tag), -EBADMSG);
	/* Failed authentication hands back no plaintext. */
	assert_true(buf_is_zero(out, 100));
	crypto_gcm_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kwp_rfc5649),
		cmocka_unit_test(test_kwp_256),
		cmocka_unit_test(test_rsa_known_answer),
		cmocka_unit_test(test_rsa_roundtrip_and_public_only),
		cmocka_unit_test(test_kek_rsa_min_bits),
		cmocka_unit_test(test_gcm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
