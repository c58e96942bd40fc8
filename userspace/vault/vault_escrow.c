// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault_escrow.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"

/* owner: a point id, or "disks/<name>" for a disk record's key slot. */
static int slot_id(const char *owner, const char *name, uint8_t id[BLOB_ID_LEN])
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s/%s", owner, name);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return crypto_sha256(buf, (size_t)n, id);
}

static int seal_kek_slot(struct vault *v, const uint8_t *id, const uint8_t *data,
			 size_t len, struct escrow_slot *e)
{
	uint8_t *key = secmem_alloc(CRYPTO_KEY_LEN), w[KEK_WRAP_MAX];
	size_t wn;
	int r;

	if (!key)
		return -ENOMEM;
	r = crypto_random(key, CRYPTO_KEY_LEN);
	if (!r)
		r = blob_seal_key(key, v->id, BLOB_SECRET, id, data, len, e->data);
	if (!r)
		r = kek_wrap(v->keys->kek, key, CRYPTO_KEY_LEN, w, sizeof(w), &wn);
	if (!r && !(e->wraps[0].data = malloc(wn)))
		r = -ENOMEM;
	if (!r) {
		memcpy(e->wraps[0].data, w, wn);
		e->wraps[0].len = wn;
		e->wraps[0].gen = v->keys->gen;
		e->nwraps = 1;
	}
	secmem_free(key);
	return r;
}

/* An image slot: the length (little-endian, like every vault integer) and
 * the SHA-256 of the bytes at the start of the point's image. */
static int seal_image_slot(const uint8_t *data, size_t len, struct escrow_slot *e)
{
	e->len = ESCROW_IMAGE_LEN;
	e->data = malloc(e->len);
	if (!e->data)
		return -ENOMEM;
	put_le64(e->data, len);
	return crypto_sha256(data, len, e->data + 8);
}

int escrow_image_len(const struct escrow_slot *e, uint64_t *len)
{
	if (e->kind != ESCROW_IMAGE || e->len != ESCROW_IMAGE_LEN)
		return -EINVAL;
	*len = get_le64(e->data);
	return *len && *len <= ESCROW_DATA_MAX ? 0 : -EUCLEAN;
}

int escrow_image_check(const struct escrow_slot *e, const uint8_t *data, size_t len)
{
	uint8_t sum[32];
	uint64_t want;
	int r = escrow_image_len(e, &want);

	if (!r && want != len)
		r = -EBADMSG;
	if (!r)
		r = crypto_sha256(data, len, sum);
	if (!r && memcmp(sum, e->data + 8, 32))
		r = -EBADMSG;
	return r;
}

int escrow_seal(struct vault *v, struct blob_ctx *c, const char *point_id,
		const char *name, int kind, const uint8_t *data, size_t len,
		struct escrow_slot *e)
{
	uint8_t id[BLOB_ID_LEN];
	int r;

	if (!escrow_name_valid(name) || len > ESCROW_DATA_MAX)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->kind = kind;
	if (kind == ESCROW_IMAGE)
		return seal_image_slot(data, len, e);
	e->len = len + BLOB_OVERHEAD;
	e->data = malloc(e->len);
	if (!e->data)
		return -ENOMEM;
	r = slot_id(point_id, name, id);
	if (!r)
		r = kind == ESCROW_DEK ? blob_seal(c, BLOB_ESCROW, id, data, len, e->data) :
					 seal_kek_slot(v, id, data, len, e);
	return r;
}

static const struct escrow_wrap *wrap_for(const struct escrow_slot *e, uint32_t gen)
{
	unsigned int i;

	for (i = 0; i < e->nwraps; i++)
		if (e->wraps[i].gen == gen)
			return &e->wraps[i];
	return NULL;
}

static int unwrap_slot_key(struct vault *v, const struct escrow_slot *e, uint8_t *key)
{
	const struct escrow_wrap *w = wrap_for(e, v->keys->gen);
	size_t n = 0;
	int r;

	if (!w)
		return -ENOKEY;
	r = kek_unwrap(v->keys->kek, w->data, w->len, key, &n, CRYPTO_KEY_LEN);
	return r ? r : n == CRYPTO_KEY_LEN ? 0 : -EBADMSG;
}

int escrow_open_buf(struct vault *v, struct blob_ctx *c, const char *point_id,
		    const struct escrow_slot *e, uint8_t *out)
{
	uint8_t id[BLOB_ID_LEN], *key;
	int r;

	if (e->kind == ESCROW_IMAGE)
		return -EOPNOTSUPP;	/* in the image: vault_restore_escrow() */
	if (e->len < BLOB_OVERHEAD)
		return -EBADMSG;
	r = slot_id(point_id, e->name, id);
	if (r < 0)
		return r;
	if (e->kind == ESCROW_DEK)
		return c ? blob_open(c, BLOB_ESCROW, id, e->data, e->len, out) : -EINVAL;
	key = secmem_alloc(CRYPTO_KEY_LEN);
	r = key ? unwrap_slot_key(v, e, key) : -ENOMEM;
	if (!r)
		r = blob_open_key(key, v->id, BLOB_SECRET, id, e->data, e->len, out);
	secmem_free(key);
	return r;
}

int escrow_open(struct vault *v, struct blob_ctx *c, const char *point_id,
		const struct escrow_slot *e, uint8_t **data, size_t *len)
{
	uint8_t *out;
	int r;

	if (e->kind == ESCROW_IMAGE)
		return -EOPNOTSUPP;
	if (e->len < BLOB_OVERHEAD)
		return -EBADMSG;
	out = secmem_alloc(e->len - BLOB_OVERHEAD + 1);
	if (!out)
		return -ENOMEM;
	r = escrow_open_buf(v, c, point_id, e, out);
	if (r < 0) {
		secmem_free(out);
		return r;
	}
	*data = out;
	*len = e->len - BLOB_OVERHEAD;
	return 0;
}

int escrow_rewrap(struct vault *v, struct escrow_slot *e,
		  const struct vault_kek *new_kek, uint32_t new_gen)
{
	uint8_t *key, w[KEK_WRAP_MAX];
	size_t wn;
	int r;

	if (e->kind != ESCROW_KEK || wrap_for(e, new_gen))
		return 0;
	if (e->nwraps >= 2)
		escrow_keep_gen(e, v->keys->gen);
	key = secmem_alloc(CRYPTO_KEY_LEN);
	if (!key)
		return -ENOMEM;
	r = unwrap_slot_key(v, e, key);
	if (!r)
		r = kek_wrap(new_kek, key, CRYPTO_KEY_LEN, w, sizeof(w), &wn);
	secmem_free(key);
	if (r < 0)
		return r;
	e->wraps[e->nwraps].data = malloc(wn);
	if (!e->wraps[e->nwraps].data)
		return -ENOMEM;
	memcpy(e->wraps[e->nwraps].data, w, wn);
	e->wraps[e->nwraps].len = wn;
	e->wraps[e->nwraps].gen = new_gen;
	e->nwraps++;
	return 0;
}

void escrow_keep_gen(struct escrow_slot *e, uint32_t gen)
{
	unsigned int i, j = 0;

	for (i = 0; i < e->nwraps; i++) {
		if (e->wraps[i].gen == gen)
			e->wraps[j++] = e->wraps[i];
		else
			free(e->wraps[i].data);
	}
	e->nwraps = j;
}
