/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CRYPTO_H
#define CRYPTSNAP_CRYPTO_H

/*
 * The only interface to OpenSSL.  Every function returns 0 or a negative
 * errno: -EBADMSG when authentication fails (GCM tag, key-wrap integrity
 * check, OAEP padding), -EKEYREJECTED when a key cannot be used.
 */
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN		32
#define CRYPTO_HMAC_LEN		32
#define CRYPTO_NONCE_LEN	12
#define CRYPTO_TAG_LEN		16
#define CRYPTO_KWP_MAX_OUT(n)	((((n) + 7) / 8) * 8 + 8)

/* Sets up OpenSSL's secure heap (see crypto.c): once, before any private
 * key is loaded.  -ENOMEM when it could not be set up (OpenSSL then falls
 * back to its ordinary heap). */
int crypto_secure_heap_init(void);
/* Bytes of the secure heap in use (0 without one). */
size_t crypto_secure_heap_used(void);

int crypto_random(void *buf, size_t len);
int crypto_sha256(const void *in, size_t len, uint8_t out[32]);
void crypto_wipe(void *p, size_t len);

/* HMAC-SHA-256 over prefix || data, with a reusable per-thread context. */
struct crypto_hmac;
int crypto_hmac_new(const uint8_t key[CRYPTO_KEY_LEN], struct crypto_hmac **out);
int crypto_hmac(struct crypto_hmac *h, const void *prefix, size_t plen,
		const void *data, size_t len, uint8_t out[CRYPTO_HMAC_LEN]);
void crypto_hmac_free(struct crypto_hmac *h);

/* AES-256-GCM with a reusable per-thread context.  out may equal in. */
struct crypto_gcm;
int crypto_gcm_new(const uint8_t key[CRYPTO_KEY_LEN], struct crypto_gcm **out);
int crypto_gcm_seal(struct crypto_gcm *g, const uint8_t nonce[CRYPTO_NONCE_LEN],
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    void *out, uint8_t tag[CRYPTO_TAG_LEN]);
int crypto_gcm_open(struct crypto_gcm *g, const uint8_t nonce[CRYPTO_NONCE_LEN],
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    void *out, const uint8_t tag[CRYPTO_TAG_LEN]);
void crypto_gcm_free(struct crypto_gcm *g);

/* AES-256 key wrap with padding, RFC 5649.  out holds
 * CRYPTO_KWP_MAX_OUT(len) bytes; *outlen gets the real length. */
int crypto_kwp_wrap(const uint8_t kek[CRYPTO_KEY_LEN], const void *in,
		    size_t len, uint8_t *out, size_t *outlen);
int crypto_kwp_unwrap(const uint8_t kek[CRYPTO_KEY_LEN], const void *in,
		      size_t len, uint8_t *out, size_t *outlen);

/* Same with a 192- or 256-bit KEK (the RFC's own vectors use 192). */
int crypto_kwp_wrap_ex(const uint8_t *kek, size_t keklen, const void *in,
		       size_t len, uint8_t *out, size_t *outlen);
int crypto_kwp_unwrap_ex(const uint8_t *kek, size_t keklen, const void *in,
			 size_t len, uint8_t *out, size_t *outlen);

/* RSA keys from PEM (private, or public for wrap-only use), OAEP with
 * SHA-256 for both hash and MGF1. */
struct crypto_rsa;
int crypto_rsa_load(const char *path, struct crypto_rsa **out);
int crypto_rsa_load_mem(const void *pem, size_t len, struct crypto_rsa **out);
unsigned int crypto_rsa_bits(const struct crypto_rsa *k);
/* Bytes of one OAEP block (the modulus size). */
size_t crypto_rsa_size(const struct crypto_rsa *k);
int crypto_rsa_has_private(const struct crypto_rsa *k);
/* SHA-256 of the DER SubjectPublicKeyInfo. */
int crypto_rsa_fingerprint(const struct crypto_rsa *k, uint8_t out[32]);
/* out holds outmax bytes; -EMSGSIZE when crypto_rsa_size() is larger. */
int crypto_rsa_wrap(const struct crypto_rsa *k, const void *in, size_t len,
		    uint8_t *out, size_t outmax, size_t *outlen);
int crypto_rsa_unwrap(const struct crypto_rsa *k, const void *in, size_t len,
		      uint8_t *out, size_t *outlen, size_t outmax);
void crypto_rsa_free(struct crypto_rsa *k);

#endif
