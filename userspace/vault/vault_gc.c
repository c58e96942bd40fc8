// SPDX-License-Identifier: GPL-2.0
/*
 * Garbage collection (vault_gc.h): live = what the points reach; anything
 * GC cannot read and authenticate stops it before it deletes anything.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crashpoint.h"
#include "lib/util.h"
#include "vault/vault_gc.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_sealed.h"
#include "vault/vault_softdel.h"

struct gc {
	struct vault *v;
	struct bindex bi, live;
	struct blob_ctx c;
	struct gc_stats *st;
	int64_t now;
	int64_t purge_now, grace;	/* soft delete (vault_softdel.h) */
	struct name_list purge;		/* deleted points whose grace is over */
	struct name_list young;		/* index objects inside the grace period */
	struct name_list keep;		/* pack names that stay */
	size_t unindexed;		/* packs present that no index lists */
	struct name_list packs;		/* packs/ when GC started, sorted */
};

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int refuse(struct gc *g, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->st->why, sizeof(g->st->why), fmt, ap);
	va_end(ap);
	return err;
}

static int is_young(struct gc *g, const char *name)
{
	int64_t t;

	if (g->v->be->ops->mtime(g->v->be, name, &t) < 0)
		return 0;
	return t > g->now - GC_GRACE_SECONDS;
}

static int keep_pack(struct gc *g, const uint8_t *pid)
{
	char name[80];

	bindex_pack_name(pid, name, sizeof(name));
	return name_list_add(&g->keep, name);
}

/* A live blob must have a location: else an index object is missing and
 * the pack holding the blob looks unreferenced.  1 when the blob is lost. */
static int mark(struct gc *g, const char *point, const uint8_t *id)
{
	struct bloc loc;
	char hex[17];
	int r;

	if (!bindex_get(&g->bi, id, &loc)) {
		/* Every pack is listed: the blob is in none of them, its pack
		 * is gone (verify and repair report the point); nothing GC
		 * could delete holds it. */
		if (!g->unindexed) {
			g->st->blobs_lost++;
			return 1;
		}
		hex_encode(id, 8, hex);
		return refuse(g, -EUCLEAN, "point %s needs blob %s… that no index "
			      "object lists (an index object is missing; see "
			      "'cryptsnap vault repair')", point, hex);
	}
	r = bindex_put(&g->live, id, &loc, 0);
	return r < 0 ? r : 0;
}

struct mark_arg {
	struct gc *g;
	const char *point;
};

static int mark_blob(const uint8_t *id, int is_seg, void *arg)
{
	struct mark_arg *a = arg;

	return mark(a->g, a->point, id);
}

static int mark_point(struct gc *g, const char *id)
{
	struct mark_arg a = { g, id };
	struct manifest m;
	uint64_t bad = UINT64_MAX;	/* set by the walk: unreadable segment */
	int r;

	r = vault_point_load(g->v, &g->c, id, &m);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return refuse(g, r == -ENOMEM ? r : -EUCLEAN,
			      "point %s cannot be read and authenticated", id);
	/* A deleted point past its grace and retain-until is not marked: its
	 * manifest goes before the sweep (purge()); anything else is live. */
	if (m.deleted && softdel_purge_time(&m, g->grace) <= g->purge_now) {
		manifest_free(&m);
		return name_list_add(&g->purge, id);
	}
	g->st->points_deleted += !!m.deleted;
	/* A lost segment (mark > 0) leaves its chunks unknown. */
	r = vault_point_walk(g->v, &g->bi, &g->c, &m, mark_blob, &a, &bad);
	if (bad != UINT64_MAX)
		r = refuse(g, -EUCLEAN, "segment %llu of point %s cannot be "
			   "read and authenticated", (unsigned long long)bad, id);
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

/* Before anything is swept: a manifest that cannot be deleted would be a
 * point without its blobs, so any failure stops GC. */
static int purge(struct gc *g)
{
	size_t i;
	int r = 0;

	for (i = 0; !r && i < g->purge.n; i++) {
		r = vault_point_delete(g->v, g->purge.names[i]);
		if (r == -ENOENT)
			r = 0;
		if (r < 0)
			return refuse(g, r, "deleted point %s cannot be purged",
				      g->purge.names[i]);
		g->st->points_purged++;
	}
	return r;
}

/* An index an in-flight writer published: its blobs and packs stay. */
static int mark_young_index(struct gc *g, const char *name)
{
	struct bindex yb;
	size_t i;
	int r = bindex_init(&yb);

	if (!r)
		r = vault_index_load_one(g->v, &yb, &g->c, name);
	for (i = 0; !r && i < yb.cap; i++) {
		struct bindex_ent *e = &yb.tab[i];
		struct bloc loc;

		if (!e->used)
			continue;
		if (bindex_get(&g->bi, e->id, &loc)) {
			r = bindex_put(&g->live, e->id, &loc, 0);
			r = r < 0 ? r : keep_pack(g, g->bi.packs[loc.pack]);
		}
		if (!r)
			r = keep_pack(g, yb.packs[e->loc.pack]);
	}
	bindex_free(&yb);
	if (!r)
		r = name_list_add(&g->young, name);
	return r;
}

static int count_unindexed(struct gc *g)
{
	struct name_list listed_packs = { 0 };
	char name[80];
	const char *p;
	size_t i;
	int r = 0;

	for (i = 0; !r && i < g->bi.npacks; i++) {
		bindex_pack_name(g->bi.packs[i], name, sizeof(name));
		r = name_list_add(&listed_packs, name);
	}
	name_list_sort(&listed_packs);
	for (i = 0; !r && i < g->packs.n; i++) {
		p = g->packs.names[i];
		if (!listed_packs.n || !bsearch(&p, listed_packs.names, listed_packs.n,
						sizeof(char *), cmp_pstr))
			g->unindexed++;
	}
	name_list_free(&listed_packs);
	return r;
}

static int load_indexes(struct gc *g, const struct name_list *idx)
{
	size_t i;
	int r = 0;

	for (i = 0; !r && i < idx->n; i++) {
		r = vault_index_merge_one(g->v, &g->bi, &g->c, idx->names[i], &g->packs);
		if (r < 0 && r != -ENOMEM)
			return refuse(g, -EUCLEAN, "index object %s cannot be read "
				      "and authenticated", idx->names[i]);
		if (!r && is_young(g, idx->names[i]))
			r = mark_young_index(g, idx->names[i]);
	}
	return r;
}

/* Live records for the new index; their packs stay. */
static int collect(struct gc *g, struct bindex_rec **recs, size_t *n)
{
	size_t i, k = 0;
	int r = 0;

	*recs = malloc((g->live.n ? g->live.n : 1) * sizeof(**recs));
	if (!*recs)
		return -ENOMEM;
	for (i = 0; !r && i < g->live.cap; i++) {
		struct bindex_ent *e = &g->live.tab[i];

		if (!e->used)
			continue;
		memcpy((*recs)[k].id, e->id, 32);
		(*recs)[k++].loc = e->loc;
		r = keep_pack(g, g->bi.packs[e->loc.pack]);
	}
	*n = k;
	g->st->blobs_live = k;
	g->st->blobs_dead = g->bi.n - k;
	name_list_sort(&g->keep);
	return r;
}

static int listed(const struct name_list *l, const char *name)
{
	return l->n && bsearch(&name, l->names, l->n, sizeof(char *), cmp_pstr);
}

static int sweep(struct gc *g, const struct name_list *old_idx)
{
	struct name_list packs = { 0 };
	size_t i;
	int r;

	name_list_sort(&g->young);
	for (i = 0; i < old_idx->n; i++)
		if (!listed(&g->young, old_idx->names[i]) &&
		    !backend_del(g->v->be, old_idx->names[i]))
			crashpoint("gc.index-deleted");
	r = backend_list(g->v->be, "packs/", &packs);
	for (i = 0; !r && i < packs.n; i++) {
		const char *p = packs.names[i];
		uint64_t sz = 0;

		if (listed(&g->keep, p)) {
			g->st->packs_kept++;
			continue;
		}
		if (is_young(g, p)) {
			g->st->packs_young++;
			continue;
		}
		g->v->be->ops->size(g->v->be, p, &sz);
		if (!backend_del(g->v->be, p)) {
			crashpoint("gc.pack-deleted");
			g->st->packs_deleted++;
			g->st->bytes_freed += sz;
		}
	}
	name_list_free(&packs);
	return r;
}

static int run(struct gc *g)
{
	struct name_list old_idx = { 0 };
	struct bindex_rec *recs = NULL;
	size_t n = 0;
	int r;

	g->v->be->ops->cleanup(g->v->be, g->now - GC_GRACE_SECONDS);
	r = backend_list(g->v->be, "packs/", &g->packs);
	if (!r)
		r = backend_list(g->v->be, "index/", &old_idx);
	if (!r)
		r = load_indexes(g, &old_idx);
	if (!r)
		r = count_unindexed(g);
	if (!r)
		r = mark_all(g);
	if (!r)
		r = purge(g);
	if (!r)
		r = collect(g, &recs, &n);
	/* New index first: a crash now leaves old and new, both valid. */
	if (!r && n)
		r = vault_index_write(g->v, &g->c, &g->bi, recs, n, NULL, 0);
	if (!r)
		r = sweep(g, &old_idx);
	free(recs);
	name_list_free(&old_idx);
	return r;
}

int vault_gc_purge_at(struct vault *v, int64_t now, int64_t purge_now,
		      struct gc_stats *st)
{
	struct gc g = { .v = v, .st = st, .now = now, .purge_now = purge_now };
	struct softdel_settings sd;
	int r;

	memset(st, 0, sizeof(*st));
	if (!v->lock)
		return -ENOLCK;
	r = vault_softdel_settings(v, &sd);
	g.grace = sd.grace;
	if (!r)
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
	name_list_free(&g.purge);
	name_list_free(&g.young);
	name_list_free(&g.keep);
	name_list_free(&g.packs);
	return r;
}

int vault_gc_at(struct vault *v, int64_t now, struct gc_stats *st)
{
	return vault_gc_purge_at(v, now, now, st);
}

int vault_gc(struct vault *v, struct gc_stats *st)
{
	return vault_gc_at(v, (int64_t)time(NULL), st);
}
