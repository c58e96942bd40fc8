// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_store.h"

uint32_t vault_max_blob(const struct vault *v)
{
	size_t seg = seg_max_size(v->seg_chunks);

	return (uint32_t)MAX((size_t)v->chunk_size, seg) + BLOB_OVERHEAD;
}

int vault_put_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN],
			const void *buf, size_t len)
{
	uint8_t *out = malloc(len + BLOB_OVERHEAD);
	int r;

	if (!out)
		return -ENOMEM;
	r = blob_seal(c, type, id, buf, len, out);
	if (!r)
		r = backend_put(v->be, name, out, len + BLOB_OVERHEAD);
	free(out);
	return r;
}

int vault_put_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, const void *buf, size_t len)
{
	uint8_t id[BLOB_ID_LEN];

	blob_name_id(idname, id);
	return vault_put_sealed_id(v, c, type, name, id, buf, len);
}

int vault_get_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN], size_t max,
			uint8_t **buf, size_t *len)
{
	uint8_t *in, *out;
	size_t n;
	int r;

	r = backend_get(v->be, name, max + BLOB_OVERHEAD, (void **)&in, &n);
	if (r == -EFBIG)
		return -EUCLEAN;
	if (r < 0)
		return r;
	if (n < BLOB_OVERHEAD) {
		free(in);
		return -EBADMSG;
	}
	out = malloc(n - BLOB_OVERHEAD + 1);
	r = out ? blob_open(c, type, id, in, n, out) : -ENOMEM;
	free(in);
	if (r < 0) {
		free(out);
		return r;
	}
	out[n - BLOB_OVERHEAD] = 0;	/* JSON payloads are parsed as strings */
	*buf = out;
	*len = n - BLOB_OVERHEAD;
	return 0;
}

int vault_get_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, size_t max,
		     uint8_t **buf, size_t *len)
{
	uint8_t id[BLOB_ID_LEN];

	blob_name_id(idname, id);
	return vault_get_sealed_id(v, c, type, name, id, max, buf, len);
}

static int index_name_ok(const char *name, char *sid, size_t sidlen)
{
	const char *base = name + strlen("index/");
	size_t n = strlen(base);

	if (n != 32 + 4 || strcmp(base + 32, ".idx"))
		return 0;
	snprintf(sid, sidlen, "%.32s", base);
	return 1;
}

static int index_load_one(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			  const char *name)
{
	char sid[40];
	uint8_t *buf;
	size_t len;
	int r;

	if (!index_name_ok(name, sid, sizeof(sid)))
		return -EUCLEAN;
	r = vault_get_sealed(v, c, BLOB_INDEX, name, sid, INDEX_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = bindex_decode(bi, buf, len, vault_max_blob(v));
	free(buf);
	return r;
}

int vault_index_load(struct vault *v, struct bindex *bi, struct name_list *damaged)
{
	struct name_list l = { 0 };
	struct blob_ctx c;
	size_t i;
	int r;

	r = blob_ctx_init(&c, v);
	if (r < 0)
		return r;
	r = backend_list(v->be, "index/", &l);
	for (i = 0; !r && i < l.n; i++) {
		int e = index_load_one(v, bi, &c, l.names[i]);

		if (e == -ENOMEM)
			r = e;
		else if (e < 0 && damaged)
			r = name_list_add(damaged, l.names[i]);
	}
	name_list_free(&l);
	blob_ctx_free(&c);
	return r;
}

int vault_blob_read(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		    const uint8_t id[32], uint8_t type, uint8_t *out, size_t max,
		    size_t *len)
{
	char name[80];
	struct bloc loc;
	uint8_t *buf;
	int r;

	pthread_mutex_lock(&bi->mu);
	r = bindex_get(bi, id, &loc) && loc.pack != BLOC_PENDING;
	if (r)
		bindex_pack_name(bi->packs[loc.pack], name, sizeof(name));
	pthread_mutex_unlock(&bi->mu);
	if (!r)
		return -ENOENT;
	if (loc.type != type || loc.len < BLOB_OVERHEAD || loc.len - BLOB_OVERHEAD > max)
		return -EUCLEAN;
	buf = malloc(loc.len);
	if (!buf)
		return -ENOMEM;
	r = backend_get_range(v->be, name, loc.off, buf, loc.len);
	if (!r)
		r = blob_open(c, type, id, buf, loc.len, out);
	free(buf);
	if (!r)
		*len = loc.len - BLOB_OVERHEAD;
	return r;
}

int vault_point_ids(struct vault *v, struct name_list *ids)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, "points/", &l);

	for (i = 0; !r && i < l.n; i++) {
		char id[POINT_ID_MAX + 8];
		char *dot;

		snprintf(id, sizeof(id), "%s", l.names[i] + strlen("points/"));
		dot = strrchr(id, '.');
		if (!dot || strcmp(dot, ".point"))
			continue;
		*dot = 0;
		if (point_id_valid(id))
			r = name_list_add(ids, id);
	}
	name_list_free(&l);
	return r;
}

static void point_name(const char *id, char *name, size_t len)
{
	snprintf(name, len, "points/%s.point", id);
}

int vault_point_load(struct vault *v, struct blob_ctx *c, const char *id,
		     struct manifest *m)
{
	char name[POINT_ID_MAX + 16];
	uint8_t *buf;
	size_t len;
	int r;

	if (!point_id_valid(id))
		return -EINVAL;
	point_name(id, name, sizeof(name));
	r = vault_get_sealed(v, c, BLOB_MANIFEST, name, id, MANIFEST_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = manifest_decode(buf, len, v->chunk_size, v->seg_chunks, m);
	free(buf);
	if (!r && strcmp(m->id, id)) {
		manifest_free(m);
		r = -EUCLEAN;
	}
	return r;
}

int vault_point_save(struct vault *v, struct blob_ctx *c, const struct manifest *m)
{
	char name[POINT_ID_MAX + 16], *s;
	size_t len;
	int r;

	r = manifest_encode(m, &s, &len);
	if (r < 0)
		return r;
	point_name(m->id, name, sizeof(name));
	r = vault_put_sealed(v, c, BLOB_MANIFEST, name, m->id, s, len);
	free(s);
	return r;
}

int vault_point_delete(struct vault *v, const char *id)
{
	char name[POINT_ID_MAX + 16];

	if (!point_id_valid(id))
		return -EINVAL;
	point_name(id, name, sizeof(name));
	return backend_del(v->be, name);
}

int vault_point_for_each(struct vault *v, int skip_gone,
			 int (*fn)(struct vault *, struct manifest *, void *),
			 void *arg, char *failed_id)
{
	struct name_list ids = { 0 };
	struct blob_ctx c;
	size_t i;
	int r;

	r = blob_ctx_init(&c, v);
	if (!r)
		r = vault_point_ids(v, &ids);
	for (i = 0; !r && i < ids.n; i++) {
		struct manifest m;

		r = vault_point_load(v, &c, ids.names[i], &m);
		if (r == -ENOENT && skip_gone) {
			r = 0;
			continue;
		}
		if (r < 0) {
			if (failed_id)
				snprintf(failed_id, POINT_ID_MAX, "%s", ids.names[i]);
			break;
		}
		r = fn(v, &m, arg);
		if (r > 0)
			r = vault_point_save(v, &c, &m);
		manifest_free(&m);
	}
	name_list_free(&ids);
	blob_ctx_free(&c);
	return r;
}

int vault_seg_load(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		   const struct manifest *m, uint64_t s, seg_id_t *ids)
{
	size_t max = seg_max_size(m->seg_chunks), len;
	uint32_t n = manifest_seg_len(m, s);
	uint8_t *buf;
	int r;

	if (seg_is_zero_id(m->segs[s])) {
		memset(ids, 0, (size_t)n * SEG_ID_LEN);
		return 0;
	}
	buf = malloc(max);
	if (!buf)
		return -ENOMEM;
	r = vault_blob_read(v, bi, c, m->segs[s], BLOB_SEG, buf, max, &len);
	if (!r)
		r = seg_decode(buf, len, n, ids);
	free(buf);
	return r;
}

int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi)
{
	memset(pw, 0, sizeof(*pw));
	pw->v = v;
	pw->bi = bi;
	pw->buf = malloc(v->pack_size + vault_max_blob(v));
	if (!pw->buf)
		return -ENOMEM;
	return crypto_random(pw->session, sizeof(pw->session));
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

int pack_writer_add(struct pack_writer *pw, const uint8_t id[32], uint8_t type,
		    const uint8_t *blob, size_t len)
{
	struct bindex_rec rec;
	int r;

	if (pw->len && pw->len + len > pw->v->pack_size) {
		r = pack_writer_flush(pw);
		if (r < 0)
			return r;
	}
	if (!pw->len) {
		memcpy(pw->buf, "CSPK\1\0\0\0", PACK_HDR_LEN);
		pw->len = PACK_HDR_LEN;
	}
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
	char sid[33], name[64];
	uint8_t *buf;
	size_t len;
	int r;

	r = pack_writer_flush(pw);
	if (r < 0 || !pw->nall)
		return r;
	pthread_mutex_lock(&pw->bi->mu);
	r = bindex_encode(pw->bi, pw->all, pw->nall, &buf, &len);
	pthread_mutex_unlock(&pw->bi->mu);
	if (r < 0)
		return r;
	hex_encode(pw->session, sizeof(pw->session), sid);
	snprintf(name, sizeof(name), "index/%s.idx", sid);
	r = vault_put_sealed(pw->v, c, BLOB_INDEX, name, sid, buf, len);
	free(buf);
	return r;
}

void pack_writer_free(struct pack_writer *pw)
{
	free(pw->buf);
	free(pw->cur);
	free(pw->all);
	memset(pw, 0, sizeof(*pw));
}
