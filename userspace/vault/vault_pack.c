// SPDX-License-Identifier: GPL-2.0
/*
 * The pack writer: groups sealed blobs into pack objects of about
 * v->pack_size and publishes the index of what it wrote.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_index.h"
#include "vault/vault_pack.h"
#include "vault/vault_sealed.h"

int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi)
{
	memset(pw, 0, sizeof(*pw));
	pw->v = v;
	pw->bi = bi;
	pw->buf = malloc(v->pack_size + PACK_REC_LEN + vault_max_blob(v));
	if (!pw->buf)
		return -ENOMEM;
	return 0;
}

static int recs_add(struct bindex_rec **a, size_t *n, size_t *cap,
		    const struct bindex_rec *rec)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		void *p = realloc(*a, c * sizeof(**a));

		if (!p)
			return -ENOMEM;
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = *rec;
	return 0;
}

int pack_rec_decode(const uint8_t *hdr, uint32_t max_blob, uint8_t id[32],
		    uint32_t *len, uint8_t *type)
{
	static const uint8_t zero[32];

	*len = get_le32(hdr + 32);
	*type = hdr[36];
	if (!memcmp(hdr, zero, 32) || *len < BLOB_OVERHEAD || *len > max_blob ||
	    (*type != BLOB_DATA && *type != BLOB_SEG) || hdr[37] || hdr[38] || hdr[39])
		return -EUCLEAN;
	memcpy(id, hdr, 32);
	return 0;
}

int pack_writer_add(struct pack_writer *pw, const uint8_t id[32], uint8_t type,
		    const uint8_t *blob, size_t len)
{
	struct bindex_rec rec;
	int r;

	if (pw->len && pw->len + PACK_REC_LEN + len > pw->v->pack_size) {
		r = pack_writer_flush(pw);
		if (r < 0)
			return r;
	}
	if (!pw->len) {
		memcpy(pw->buf, "CSPK\2\0\0\0", PACK_HDR_LEN);
		pw->len = PACK_HDR_LEN;
	}
	memcpy(pw->buf + pw->len, id, 32);
	put_le32(pw->buf + pw->len + 32, (uint32_t)len);
	memcpy(pw->buf + pw->len + 36, (uint8_t[4]){ type, 0, 0, 0 }, 4);
	pw->len += PACK_REC_LEN;
	memcpy(rec.id, id, 32);
	rec.loc.pack = BLOC_PENDING;
	rec.loc.off = (uint32_t)pw->len;
	rec.loc.len = (uint32_t)len;
	rec.loc.type = type;
	memcpy(pw->buf + pw->len, blob, len);
	pw->len += len;
	return recs_add(&pw->cur, &pw->ncur, &pw->capcur, &rec);
}

static int publish_pack(struct pack_writer *pw, uint32_t *idx)
{
	uint8_t pid[PACK_ID_LEN];
	char name[80];
	int r;

	r = crypto_random(pid, sizeof(pid));
	if (r < 0)
		return r;
	bindex_pack_name(pid, name, sizeof(name));
	r = backend_put(pw->v->be, name, pw->buf, pw->len);
	if (r < 0)
		return r;
	crashpoint("pack.written");
	pthread_mutex_lock(&pw->bi->mu);
	r = bindex_add_pack(pw->bi, pid, idx);
	pthread_mutex_unlock(&pw->bi->mu);
	return r;
}

int pack_writer_flush(struct pack_writer *pw)
{
	uint32_t idx;
	size_t i;
	int r = 0;

	if (!pw->ncur)
		return 0;
	r = publish_pack(pw, &idx);
	if (r < 0)
		return r;
	pw->bytes_written += pw->len;
	pthread_mutex_lock(&pw->bi->mu);
	for (i = 0; r >= 0 && i < pw->ncur; i++) {
		pw->cur[i].loc.pack = idx;
		r = bindex_put(pw->bi, pw->cur[i].id, &pw->cur[i].loc, 1);
		if (r >= 0)
			r = recs_add(&pw->all, &pw->nall, &pw->capall, &pw->cur[i]);
	}
	pthread_mutex_unlock(&pw->bi->mu);
	pw->ncur = 0;
	pw->len = 0;
	return r < 0 ? r : 0;
}

int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c)
{
	int r;

	r = pack_writer_flush(pw);
	if (r < 0 || !pw->nall)
		return r;
	pthread_mutex_lock(&pw->bi->mu);
	r = vault_index_write(pw->v, c, pw->bi, pw->all, pw->nall, NULL, 0);
	pthread_mutex_unlock(&pw->bi->mu);
	return r;
}

void pack_writer_free(struct pack_writer *pw)
{
	free(pw->buf);
	free(pw->cur);
	free(pw->all);
	memset(pw, 0, sizeof(*pw));
}
