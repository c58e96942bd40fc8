// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_blob.h"
#include "vault/vault_keys.h"

static const char aad_label[12] = "cryptsnap/v1";

int blob_ctx_init(struct blob_ctx *c, const struct vault *v)
{
	const struct vault_keys *k = v->keys;
	unsigned int i;
	int r;

	memset(c, 0, sizeof(*c));
	if (!k)
		return -ENOKEY;
	c->vault_id = v->id;
	c->cur = k->cur_dek;
	c->sealed = &v->keys->session_sealed;
	r = crypto_hmac_new(k->mac, &c->mac);
	for (i = 0; !r && i < k->ndeks; i++) {
		c->dek_id[i] = k->dek_id[i];
		r = crypto_gcm_new(k->dek[i], &c->gcm[i]);
		c->ndeks = i + 1;
	}
	if (r < 0)
		blob_ctx_free(c);
	return r;
}

void blob_ctx_free(struct blob_ctx *c)
{
	unsigned int i;

	crypto_hmac_free(c->mac);
	for (i = 0; i < c->ndeks; i++)
		crypto_gcm_free(c->gcm[i]);
	memset(c, 0, sizeof(*c));
}

int blob_id(struct blob_ctx *c, uint8_t type, const void *data, size_t len,
	    uint8_t id[BLOB_ID_LEN])
{
	return crypto_hmac(c->mac, &type, 1, data, len, id);
}

static void make_aad(uint8_t *aad, const uint8_t *vault_id, const uint8_t *hdr,
		     const uint8_t *id)
{
	memcpy(aad, aad_label, sizeof(aad_label));
	memcpy(aad + 12, vault_id, VAULT_ID_LEN);
	memcpy(aad + 12 + VAULT_ID_LEN, hdr, 8);
	memcpy(aad + 20 + VAULT_ID_LEN, id, BLOB_ID_LEN);
}

#define AAD_LEN (20 + VAULT_ID_LEN + BLOB_ID_LEN)

static struct crypto_gcm *ctx_gcm(struct blob_ctx *c, uint8_t dek)
{
	unsigned int i;

	for (i = 0; i < c->ndeks; i++)
		if (c->dek_id[i] == dek)
			return c->gcm[i];
	return NULL;
}

static int seal_with(struct crypto_gcm *g, const uint8_t *vault_id, uint8_t type,
		     uint8_t dek, const uint8_t *id, const void *in, size_t len,
		     uint8_t *out)
{
	uint8_t aad[AAD_LEN];
	int r;

	memcpy(out, "CSB1", 4);
	out[4] = type;
	out[5] = dek;
	out[6] = out[7] = 0;
	r = crypto_random(out + 8, CRYPTO_NONCE_LEN);
	if (r < 0)
		return r;
	make_aad(aad, vault_id, out, id);
	return crypto_gcm_seal(g, out + 8, aad, sizeof(aad), in, len,
			       out + BLOB_HDR_LEN, out + BLOB_HDR_LEN + len);
}

static int open_with(struct crypto_gcm *g, const uint8_t *vault_id,
		     const uint8_t *id, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t aad[AAD_LEN];
	size_t n = len - BLOB_OVERHEAD;

	make_aad(aad, vault_id, in, id);
	return crypto_gcm_open(g, in + 8, aad, sizeof(aad), in + BLOB_HDR_LEN, n,
			       out, in + BLOB_HDR_LEN + n);
}

static int header_ok(const uint8_t *in, size_t len, uint8_t type)
{
	return len >= BLOB_OVERHEAD && !memcmp(in, "CSB1", 4) && in[4] == type &&
	       !in[6] && !in[7];
}

int blob_seal(struct blob_ctx *c, uint8_t type, const uint8_t id[BLOB_ID_LEN],
	      const void *in, size_t len, uint8_t *out)
{
	struct crypto_gcm *g = ctx_gcm(c, c->cur);

	if (!g)
		return -ENOKEY;
	/* Every random nonce under the DEK counts against its budget. */
	__atomic_add_fetch(c->sealed, 1, __ATOMIC_RELAXED);
	return seal_with(g, c->vault_id, type, c->cur, id, in, len, out);
}

int blob_open(struct blob_ctx *c, uint8_t type, const uint8_t id[BLOB_ID_LEN],
	      const uint8_t *in, size_t len, uint8_t *out)
{
	struct crypto_gcm *g;

	if (!header_ok(in, len, type))
		return -EBADMSG;
	g = ctx_gcm(c, in[5]);
	if (!g)
		return -EBADMSG;
	return open_with(g, c->vault_id, id, in, len, out);
}

int blob_seal_key(const uint8_t key[32], const uint8_t *vault_id, uint8_t type,
		  const uint8_t id[BLOB_ID_LEN], const void *in, size_t len, uint8_t *out)
{
	struct crypto_gcm *g;
	int r = crypto_gcm_new(key, &g);

	if (r < 0)
		return r;
	r = seal_with(g, vault_id, type, 0, id, in, len, out);
	crypto_gcm_free(g);
	return r;
}

int blob_open_key(const uint8_t key[32], const uint8_t *vault_id, uint8_t type,
		  const uint8_t id[BLOB_ID_LEN], const uint8_t *in, size_t len, uint8_t *out)
{
	struct crypto_gcm *g;
	int r;

	if (!header_ok(in, len, type) || in[5])
		return -EBADMSG;
	r = crypto_gcm_new(key, &g);
	if (r < 0)
		return r;
	r = open_with(g, vault_id, id, in, len, out);
	crypto_gcm_free(g);
	return r;
}

void blob_name_id(const char *name, uint8_t id[BLOB_ID_LEN])
{
	memset(id, 0, BLOB_ID_LEN);
	memcpy(id, name, MIN(strlen(name), (size_t)BLOB_ID_LEN));
}
