// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_gc.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_sealed.h"

struct gc {
	struct vault *v;
	struct bindex bi, live;
	struct blob_ctx c;
	seg_id_t *ids;
	struct gc_stats *st;
};

static int mark(struct gc *g, const uint8_t *id)
{
	static const struct bloc none;
	int r = bindex_put(&g->live, id, &none, 0);

	return r < 0 ? r : 0;
}

static int mark_point(struct gc *g, const char *id)
{
	struct manifest m;
	uint64_t s;
	uint32_t i;
	int r;

	r = vault_point_load(g->v, &g->c, id, &m);
	if (r < 0)
		return r == -ENOENT ? 0 : -EUCLEAN;
	for (s = 0; !r && s < m.nsegs; s++) {
		if (seg_is_zero_id(m.segs[s]))
			continue;
		r = mark(g, m.segs[s]);
		if (!r && vault_seg_load(g->v, &g->bi, &g->c, &m, s, g->ids) < 0)
			r = -EUCLEAN;
		for (i = 0; !r && i < manifest_seg_len(&m, s); i++)
			if (!seg_is_zero_id(g->ids[i]))
				r = mark(g, g->ids[i]);
	}
	manifest_free(&m);
	g->st->points++;
	return r;
}

static int mark_all(struct gc *g)
{
	struct name_list ids = { 0 };
	size_t i;
	int r = vault_point_ids(g->v, &ids);

	for (i = 0; !r && i < ids.n; i++)
		r = mark_point(g, ids.names[i]);
	name_list_free(&ids);
	return r;
}

/* Live records for the new index, and the set of pack names still used. */
static int collect(struct gc *g, struct bindex_rec **recs, size_t *n,
		   struct name_list *keep)
{
	size_t i, k = 0;
	char name[80];

	*recs = malloc((g->bi.n ? g->bi.n : 1) * sizeof(**recs));
	if (!*recs)
		return -ENOMEM;
	for (i = 0; i < g->bi.cap; i++) {
		struct bindex_ent *e = &g->bi.tab[i];

		if (!e->used)
			continue;
		if (!bindex_get(&g->live, e->id, NULL)) {
			g->st->blobs_dead++;
			continue;
		}
		memcpy((*recs)[k].id, e->id, 32);
		(*recs)[k++].loc = e->loc;
		bindex_pack_name(g->bi.packs[e->loc.pack], name, sizeof(name));
		if (name_list_add(keep, name) < 0)
			return -ENOMEM;
	}
	*n = k;
	g->st->blobs_live = k;
	name_list_sort(keep);
	return 0;
}

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_index(struct gc *g, const struct bindex_rec *recs, size_t n,
		       char *name, size_t len)
{
	uint8_t sid[16], *buf;
	char hex[33];
	size_t blen;
	int r;

	r = bindex_encode(&g->bi, recs, n, &buf, &blen);
	if (!r)
		r = crypto_random(sid, sizeof(sid));
	if (r < 0)
		return r;
	hex_encode(sid, sizeof(sid), hex);
	snprintf(name, len, "index/%s.idx", hex);
	r = vault_put_sealed(g->v, &g->c, BLOB_INDEX, name, hex, buf, blen);
	free(buf);
	return r;
}

static int sweep(struct gc *g, const struct name_list *old_idx, const char *new_idx,
		 const struct name_list *keep)
{
	struct name_list packs = { 0 };
	size_t i;
	int r;

	for (i = 0; i < old_idx->n; i++)
		if (strcmp(old_idx->names[i], new_idx))
			backend_del(g->v->be, old_idx->names[i]);
	r = backend_list(g->v->be, "packs/", &packs);
	for (i = 0; !r && i < packs.n; i++) {
		const char *p = packs.names[i];
		uint64_t sz = 0;

		if (bsearch(&p, keep->names, keep->n, sizeof(char *), cmp_pstr)) {
			g->st->packs_kept++;
			continue;
		}
		g->v->be->ops->size(g->v->be, p, &sz);
		if (!backend_del(g->v->be, p)) {
			g->st->packs_deleted++;
			g->st->bytes_freed += sz;
		}
	}
	name_list_free(&packs);
	return r;
}

static int run(struct gc *g)
{
	struct name_list dmg = { 0 }, old_idx = { 0 }, keep = { 0 };
	struct bindex_rec *recs = NULL;
	char new_idx[80] = "";
	size_t n = 0;
	int r;

	g->v->be->ops->cleanup(g->v->be);
	r = backend_list(g->v->be, "index/", &old_idx);
	if (!r)
		r = vault_index_load(g->v, &g->bi, &dmg);
	if (!r && dmg.n)
		r = -EUCLEAN;
	if (!r)
		r = mark_all(g);
	if (!r)
		r = collect(g, &recs, &n, &keep);
	/* New index first: a crash now leaves old and new, both valid. */
	if (!r && n)
		r = write_index(g, recs, n, new_idx, sizeof(new_idx));
	if (!r)
		r = sweep(g, &old_idx, new_idx, &keep);
	free(recs);
	name_list_free(&dmg);
	name_list_free(&old_idx);
	name_list_free(&keep);
	return r;
}

int vault_gc(struct vault *v, struct gc_stats *st)
{
	struct gc g = { .v = v, .st = st };
	int r;

	memset(st, 0, sizeof(*st));
	if (!v->lock)
		return -ENOLCK;
	g.ids = malloc((size_t)v->seg_chunks * SEG_ID_LEN);
	if (!g.ids)
		return -ENOMEM;
	r = bindex_init(&g.bi);
	if (!r)
		r = bindex_init(&g.live);
	if (!r)
		r = blob_ctx_init(&g.c, v);
	if (!r)
		r = run(&g);
	blob_ctx_free(&g.c);
	bindex_free(&g.live);
	bindex_free(&g.bi);
	free(g.ids);
	return r;
}
