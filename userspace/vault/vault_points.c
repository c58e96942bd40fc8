// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery points: the sealed manifest of each point, and its segments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "vault/vault_catalogue.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_sealed.h"

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

/* Announce, put, confirm: the catalogue always accepts what is stored
 * (vault_catalogue.h). */
int vault_point_save(struct vault *v, struct blob_ctx *c, const struct manifest *m)
{
	char name[POINT_ID_MAX + 16], *s;
	uint8_t id[BLOB_ID_LEN], h[32], *out = NULL;
	size_t len;
	int r;

	r = manifest_encode(m, &s, &len);
	if (r < 0)
		return r;
	point_name(m->id, name, sizeof(name));
	blob_name_id(m->id, id);
	out = malloc(len + BLOB_OVERHEAD);
	r = out ? blob_seal(c, BLOB_MANIFEST, id, s, len, out) : -ENOMEM;
	if (!r)
		r = crypto_sha256(out, len + BLOB_OVERHEAD, h);
	if (!r)
		r = vault_catalogue_update(v, c, CAT_BEGIN_SAVE, m->id, h);
	if (!r)
		r = backend_put(v->be, name, out, len + BLOB_OVERHEAD);
	if (!r) {
		crashpoint("point.published");
		r = vault_catalogue_update(v, c, CAT_END_SAVE, m->id, h);
	}
	free(out);
	free(s);
	return r;
}

int vault_point_delete(struct vault *v, const char *id)
{
	char name[POINT_ID_MAX + 16];
	struct blob_ctx c;
	int r;

	if (!point_id_valid(id))
		return -EINVAL;
	point_name(id, name, sizeof(name));
	r = blob_ctx_init(&c, v);
	if (!r)
		r = vault_catalogue_update(v, &c, CAT_BEGIN_DELETE, id, NULL);
	if (!r)
		r = backend_del(v->be, name);
	if (!r) {
		crashpoint("point.deleted");
		r = vault_catalogue_update(v, &c, CAT_END_DELETE, id, NULL);
	}
	blob_ctx_free(&c);
	return r;
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

int vault_point_walk(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		     const struct manifest *m,
		     int (*fn)(const uint8_t *id, int is_seg, void *arg), void *arg,
		     uint64_t *bad_seg)
{
	seg_id_t *ids = malloc((size_t)m->seg_chunks * SEG_ID_LEN);
	uint64_t s;
	uint32_t i;
	int r = ids ? 0 : -ENOMEM;

	for (s = 0; !r && s < m->nsegs; s++) {
		if (seg_is_zero_id(m->segs[s]))
			continue;
		r = fn(m->segs[s], 1, arg);
		if (r) {
			r = r < 0 ? r : 0;	/* > 0: segment lost, chunks unknown */
			continue;
		}
		if (vault_seg_load(v, bi, c, m, s, ids) < 0) {
			if (bad_seg)
				*bad_seg = s;
			r = -EUCLEAN;
		}
		for (i = 0; !r && i < manifest_seg_len(m, s); i++)
			if (!seg_is_zero_id(ids[i]) && (r = fn(ids[i], 0, arg)) > 0)
				r = 0;
	}
	free(ids);
	return r;
}
