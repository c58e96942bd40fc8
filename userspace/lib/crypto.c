// SPDX-License-Identifier: GPL-2.0
/* All of cryptsnap's cryptography, on OpenSSL 3 EVP.  No other file
 * includes an OpenSSL header. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/crypto.h"

struct crypto_hmac {
	EVP_MAC_CTX *ctx;
};

struct crypto_gcm {
	EVP_CIPHER_CTX *ctx;
};

struct crypto_rsa {
	EVP_PKEY *pkey;
	int has_private;
};

void crypto_wipe(void *p, size_t len)
{
	if (p)
		OPENSSL_cleanse(p, len);
}

/*
 * OpenSSL's secure heap: one mlock'ed, MADV_DONTDUMP mapping with guard
 * pages, cleared on free.  Once it exists, OpenSSL's ASN.1 decoder puts
 * the private parts of an RSA key (d, p, q, dP, dQ, qInv) there
 * (BN_secure_new for "CBIGNUM" fields) and the PEM reader keeps the
 * decoded private-key text there too.  256 KiB holds several 16384-bit
 * keys.  Without it (mlock refused), OpenSSL silently uses malloc.
 */
#define SECURE_HEAP_SIZE	(256 << 10)
#define SECURE_HEAP_MIN		32

int crypto_secure_heap_init(void)
{
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	return CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN) ? 0 : -ENOMEM;
}

size_t crypto_secure_heap_used(void)
{
	return CRYPTO_secure_malloc_initialized() ? CRYPTO_secure_used() : 0;
}

int crypto_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int crypto_sha256(const void *in, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	return EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int crypto_hmac_new(const uint8_t key[CRYPTO_KEY_LEN], struct crypto_hmac **out)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	struct crypto_hmac *h;
	EVP_MAC *mac;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac)
		h->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!h->ctx || EVP_MAC_init(h->ctx, key, CRYPTO_KEY_LEN, params) != 1) {
		crypto_hmac_free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

int crypto_hmac(struct crypto_hmac *h, const void *prefix, size_t plen,
		const void *data, size_t len, uint8_t out[CRYPTO_HMAC_LEN])
{
	size_t n = 0;

	/* A NULL key re-initialises with the key already set. */
	if (EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1 ||
	    (plen && EVP_MAC_update(h->ctx, prefix, plen) != 1) ||
	    EVP_MAC_update(h->ctx, data, len) != 1 ||
	    EVP_MAC_final(h->ctx, out, &n, CRYPTO_HMAC_LEN) != 1 ||
	    n != CRYPTO_HMAC_LEN)
		return -EIO;
	return 0;
}

void crypto_hmac_free(struct crypto_hmac *h)
{
	if (!h)
		return;
	EVP_MAC_CTX_free(h->ctx);
	free(h);
}

int crypto_gcm_new(const uint8_t key[CRYPTO_KEY_LEN], struct crypto_gcm **out)
{
	struct crypto_gcm *g;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->ctx = EVP_CIPHER_CTX_new();
	/* Direction is chosen per call; the key schedule is kept. */
	if (!g->ctx ||
	    EVP_CipherInit_ex(g->ctx, EVP_aes_256_gcm(), NULL, key, NULL, 1) != 1) {
		crypto_gcm_free(g);
		return -EIO;
	}
	*out = g;
	return 0;
}

static int gcm_run(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *nonce,
		   const void *aad, size_t aadlen, const void *in, size_t len,
		   void *out)
{
	int n;

	if (len > INT32_MAX || aadlen > INT32_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1)
		return -EIO;
	if (aadlen && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		return -EIO;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		return -EIO;
	return 0;
}

int crypto_gcm_seal(struct crypto_gcm *g, const uint8_t nonce[CRYPTO_NONCE_LEN],
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    void *out, uint8_t tag[CRYPTO_TAG_LEN])
{
	uint8_t dummy[16];
	int n, r;

	r = gcm_run(g->ctx, 1, nonce, aad, aadlen, in, len, out);
	if (r < 0)
		return r;
	if (EVP_CipherFinal_ex(g->ctx, dummy, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

int crypto_gcm_open(struct crypto_gcm *g, const uint8_t nonce[CRYPTO_NONCE_LEN],
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    void *out, const uint8_t tag[CRYPTO_TAG_LEN])
{
	uint8_t dummy[16];
	int n, r;

	r = gcm_run(g->ctx, 0, nonce, aad, aadlen, in, len, out);
	if (r < 0)
		return r;
	if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
				(void *)tag) != 1)
		return -EIO;
	if (EVP_CipherFinal_ex(g->ctx, dummy, &n) != 1) {
		/* Never hand back plaintext that failed authentication. */
		OPENSSL_cleanse(out, len);
		return -EBADMSG;
	}
	return 0;
}

void crypto_gcm_free(struct crypto_gcm *g)
{
	if (!g)
		return;
	EVP_CIPHER_CTX_free(g->ctx);
	free(g);
}

static int kwp_run(int enc, const uint8_t *kek, size_t keklen, const void *in,
		   size_t len, uint8_t *out, size_t *outlen)
{
	const EVP_CIPHER *c = keklen == 24 ? EVP_aes_192_wrap_pad() :
			      keklen == 32 ? EVP_aes_256_wrap_pad() : NULL;

	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0, ok;

	if (len > 1 << 20 || !c)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(ctx, c, NULL, kek, NULL, enc) == 1 &&
	     EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 &&
	     EVP_CipherFinal_ex(ctx, out + n, &m) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok || n <= 0)
		return enc ? -EIO : -EBADMSG;
	*outlen = (size_t)n + (size_t)m;
	return 0;
}

int crypto_kwp_wrap_ex(const uint8_t *kek, size_t keklen, const void *in,
		       size_t len, uint8_t *out, size_t *outlen)
{
	if (!len)
		return -EINVAL;
	return kwp_run(1, kek, keklen, in, len, out, outlen);
}

int crypto_kwp_unwrap_ex(const uint8_t *kek, size_t keklen, const void *in,
			 size_t len, uint8_t *out, size_t *outlen)
{
	/* RFC 5649: at least two 64-bit blocks, a multiple of eight. */
	if (len < 16 || len % 8)
		return -EBADMSG;
	return kwp_run(0, kek, keklen, in, len, out, outlen);
}

int crypto_kwp_wrap(const uint8_t kek[CRYPTO_KEY_LEN], const void *in,
		    size_t len, uint8_t *out, size_t *outlen)
{
	return crypto_kwp_wrap_ex(kek, CRYPTO_KEY_LEN, in, len, out, outlen);
}

int crypto_kwp_unwrap(const uint8_t kek[CRYPTO_KEY_LEN], const void *in,
		      size_t len, uint8_t *out, size_t *outlen)
{
	return crypto_kwp_unwrap_ex(kek, CRYPTO_KEY_LEN, in, len, out, outlen);
}

static int rsa_from_bio(BIO *bio, struct crypto_rsa **out)
{
	struct crypto_rsa *k;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (k->pkey) {
		k->has_private = 1;
	} else {
		(void)BIO_reset(bio);
		k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	if (!k->pkey || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
		crypto_rsa_free(k);
		return -EKEYREJECTED;
	}
	*out = k;
	return 0;
}

int crypto_rsa_load_mem(const void *pem, size_t len, struct crypto_rsa **out)
{
	BIO *bio;
	int r;

	if (len > INT32_MAX)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	r = rsa_from_bio(bio, out);
	BIO_free(bio);
	return r;
}

int crypto_rsa_load(const char *path, struct crypto_rsa **out)
{
	BIO *bio;
	int r;

	bio = BIO_new_file(path, "r");
	if (!bio)
		return -errno ? -errno : -ENOENT;
	r = rsa_from_bio(bio, out);
	BIO_free(bio);
	return r;
}

unsigned int crypto_rsa_bits(const struct crypto_rsa *k)
{
	return (unsigned int)EVP_PKEY_get_bits(k->pkey);
}

size_t crypto_rsa_size(const struct crypto_rsa *k)
{
	int n = EVP_PKEY_get_size(k->pkey);

	return n > 0 ? (size_t)n : 0;
}

int crypto_rsa_has_private(const struct crypto_rsa *k)
{
	return k->has_private;
}

int crypto_rsa_fingerprint(const struct crypto_rsa *k, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n, r;

	n = i2d_PUBKEY(k->pkey, &der);
	if (n <= 0)
		return -EIO;
	r = crypto_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return r;
}

static EVP_PKEY_CTX *oaep_ctx(const struct crypto_rsa *k, int enc)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);

	if (!ctx)
		return NULL;
	if ((enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int crypto_rsa_wrap(const struct crypto_rsa *k, const void *in, size_t len,
		    uint8_t *out, size_t outmax, size_t *outlen)
{
	EVP_PKEY_CTX *ctx;
	size_t n = crypto_rsa_size(k);
	int ok;

	if (!n || n > outmax)
		return -EMSGSIZE;
	ctx = oaep_ctx(k, 1);
	if (!ctx)
		return -EIO;
	ok = EVP_PKEY_encrypt(ctx, out, &n, in, len) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return -EINVAL;
	*outlen = n;
	return 0;
}

int crypto_rsa_unwrap(const struct crypto_rsa *k, const void *in, size_t len,
		      uint8_t *out, size_t *outlen, size_t outmax)
{
	EVP_PKEY_CTX *ctx;
	size_t n = 0;
	uint8_t *tmp;
	int ok;

	if (!k->has_private)
		return -EKEYREJECTED;
	if (len != crypto_rsa_size(k))
		return -EBADMSG;
	ctx = oaep_ctx(k, 0);
	if (!ctx)
		return -EIO;
	/* Decrypt into a modulus-sized scratch buffer, then copy. */
	tmp = OPENSSL_secure_malloc(len);
	n = len;
	ok = tmp && EVP_PKEY_decrypt(ctx, tmp, &n, in, len) == 1 && n <= outmax;
	if (ok) {
		memcpy(out, tmp, n);
		*outlen = n;
	}
	if (tmp)
		OPENSSL_secure_clear_free(tmp, len);
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -EBADMSG;
}

void crypto_rsa_free(struct crypto_rsa *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}
