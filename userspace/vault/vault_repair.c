// SPDX-License-Identifier: GPL-2.0
/*
 * Index repair and the damage of a point (vault_repair.h).  Nothing read
 * from a pack is listed before its envelope opened under the id and type
 * its record header claims.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crashpoint.h"
#include "lib/util.h"
#include "vault/vault_index.h"
#include "vault/vault_pack.h"
#include "vault/vault_points.h"
#include "vault/vault_repair.h"
#include "vault/vault_sealed.h"

struct repair {
	struct vault *v;
	struct repair_report *rep;
	struct blob_ctx c;
	struct bindex bi;		/* what the new index objects list */
	struct bindex_rec *recs;
	size_t n, cap;
	struct name_list packs;		/* every pack present, sorted */
	uint8_t *indexed;		/* per packs entry: some index lists it */
	struct name_list replace;	/* index objects to remove at the end */
};

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long pack_pos(const struct name_list *l, const char *name)
{
	char **p = l->n ? bsearch(&name, l->names, l->n, sizeof(char *), cmp_pstr) : NULL;

	return p ? (long)(p - l->names) : -1;
}

static int add_once(struct name_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return 0;
	return name_list_add(l, name);
}

/* Records a location; list: also in the new index objects. */
static int rec_add(struct repair *rp, const uint8_t *id, const struct bloc *loc, int list)
{
	int r;

	if (list && rp->n == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 1024;
		void *p = realloc(rp->recs, cap * sizeof(*rp->recs));

		if (!p)
			return -ENOMEM;
		rp->recs = p;
		rp->cap = cap;
	}
	r = bindex_put(&rp->bi, id, loc, 0);
	if (r <= 0 || !list)
		return r < 0 ? r : 0;	/* listed already: once is enough */
	memcpy(rp->recs[rp->n].id, id, 32);
	rp->recs[rp->n++].loc = *loc;
	return 0;
}

/* One readable index: entries of present packs stay (and are rewritten
 * when the object must be replaced), entries of gone packs are dropped. */
static int take_index(struct repair *rp, const char *name)
{
	struct bindex tb;
	uint32_t *map = NULL;
	size_t i, dropped = 0;
	int r = bindex_init(&tb), replace = 0;
	char pn[80];

	if (!r)
		r = vault_index_load_one(rp->v, &tb, &rp->c, name);
	/* Only an object that is there and does not open is replaced; an
	 * I/O error stops the repair before anything is removed. */
	if (r == -EBADMSG || r == -EUCLEAN) {
		bindex_free(&tb);
		r = name_list_add(&rp->rep->damaged_idx, name);
		return r ? r : name_list_add(&rp->replace, name);
	}
	map = r ? NULL : malloc((tb.npacks + 1) * sizeof(*map));
	if (!r && !map)
		r = -ENOMEM;
	for (i = 0; !r && i < tb.npacks; i++) {
		long pos;

		bindex_pack_name(tb.packs[i], pn, sizeof(pn));
		pos = pack_pos(&rp->packs, pn);
		map[i] = UINT32_MAX;
		if (pos < 0) {
			r = add_once(&rp->rep->missing_packs, pn);
			replace = 1;	/* its surviving entries get a new object */
		} else {
			rp->indexed[pos] = 1;
			r = bindex_add_pack(&rp->bi, tb.packs[i], &map[i]);
		}
	}
	for (i = 0; !r && i < tb.cap; i++) {
		struct bindex_ent *e = &tb.tab[i];
		struct bloc loc;

		if (!e->used)
			continue;
		if (map[e->loc.pack] == UINT32_MAX) {
			dropped++;
			continue;
		}
		loc = e->loc;
		loc.pack = map[e->loc.pack];
		r = rec_add(rp, e->id, &loc, replace);
	}
	free(map);
	bindex_free(&tb);
	rp->rep->entries_dropped += dropped;
	if (!r && dropped)
		r = name_list_add(&rp->replace, name);
	return r;
}

/* Reads a format-2 pack record by record; lists every blob that opens. */
static int scan_pack(struct repair *rp, const char *name, uint8_t *buf, uint8_t *out)
{
	uint32_t max = vault_max_blob(rp->v), len, idx;
	uint8_t hdr[PACK_REC_LEN], pid[PACK_ID_LEN], id[32], type;
	uint64_t size = 0, off = PACK_HDR_LEN;
	const char *base = strrchr(name, '/');
	char hex[2 * PACK_ID_LEN + 1];
	int r;

	r = rp->v->be->ops->size(rp->v->be, name, &size);
	if (!r)
		r = backend_get_range(rp->v->be, name, 0, hdr, PACK_HDR_LEN);
	if (r < 0 || size < PACK_HDR_LEN || memcmp(hdr, "CSPK", 4) || hdr[5] || hdr[6] || hdr[7])
		return add_once(&rp->rep->bad_packs, name);
	if (hdr[4] != PACK_VERSION)
		return add_once(&rp->rep->old_packs, name);
	if (!base || strlen(base + 1) != 2 * PACK_ID_LEN + 5)
		return add_once(&rp->rep->bad_packs, name);
	snprintf(hex, sizeof(hex), "%.*s", 2 * PACK_ID_LEN, base + 1);
	if (hex_decode(hex, pid, PACK_ID_LEN) < 0)
		return add_once(&rp->rep->bad_packs, name);
	r = bindex_add_pack(&rp->bi, pid, &idx);
	rp->rep->packs_scanned++;
	while (!r && off < size) {
		struct bloc loc = { .pack = idx, .off = (uint32_t)(off + PACK_REC_LEN) };

		if (size - off < PACK_REC_LEN ||
		    backend_get_range(rp->v->be, name, off, hdr, PACK_REC_LEN) < 0 ||
		    pack_rec_decode(hdr, max, id, &len, &type) < 0 ||
		    size - off - PACK_REC_LEN < len || loc.off > VAULT_PACK_MAX ||
		    backend_get_range(rp->v->be, name, loc.off, buf, len) < 0 ||
		    blob_open(&rp->c, type, id, buf, len, out) < 0)
			return add_once(&rp->rep->bad_packs, name);
		loc.len = len;
		loc.type = type;
		r = rec_add(rp, id, &loc, 1);
		rp->rep->blobs_reindexed += !r;
		off += PACK_REC_LEN + len;
	}
	return r;
}

static int scan_unindexed(struct repair *rp)
{
	uint32_t max = vault_max_blob(rp->v);
	uint8_t *buf = malloc(max), *out = malloc(max);
	size_t i;
	int r = buf && out ? 0 : -ENOMEM;

	for (i = 0; !r && i < rp->packs.n; i++)
		if (!rp->indexed[i])
			r = scan_pack(rp, rp->packs.names[i], buf, out);
	free(buf);
	free(out);
	return r;
}

/* Which points lose what: judged on the indexes as they were, against the
 * packs present, before anything is rewritten. */
static int report_points(struct repair *rp)
{
	struct name_list ids = { 0 };
	struct bindex all;
	uint8_t *present = NULL;
	size_t i;
	int r = bindex_init(&all);

	if (!r)
		r = vault_index_load(rp->v, &all, NULL);
	if (!r)
		r = vault_index_packs_present(rp->v, &all, &present);
	if (!r)
		r = vault_point_ids(rp->v, &ids);
	for (i = 0; !r && i < ids.n; i++) {
		struct point_damage d = { 0 };
		struct manifest m;
		char line[160];

		if (vault_point_load(rp->v, &rp->c, ids.names[i], &m) < 0)
			continue;	/* verify reports unreadable points */
		r = vault_point_damage(rp->v, &all, &rp->c, &m, present, &d);
		if (r == -EUCLEAN)
			r = 0;
		if (!r && d.in_missing) {
			snprintf(line, sizeof(line), "%s %s %llu", m.id, m.disk,
				 (unsigned long long)d.in_missing);
			r = name_list_add(&rp->rep->lost, line);
		}
		point_damage_free(&d);
		manifest_free(&m);
	}
	free(present);
	name_list_free(&ids);
	bindex_free(&all);
	return r;
}

static int run(struct repair *rp)
{
	struct name_list idx = { 0 };
	size_t i;
	int r;

	r = backend_list(rp->v->be, "packs/", &rp->packs);
	if (!r)
		r = report_points(rp);
	rp->indexed = r ? NULL : calloc(rp->packs.n + 1, 1);
	if (!r && !rp->indexed)
		r = -ENOMEM;
	if (!r)
		r = backend_list(rp->v->be, "index/", &idx);
	for (i = 0; !r && i < idx.n; i++)
		r = take_index(rp, idx.names[i]);
	if (!r)
		r = scan_unindexed(rp);
	/* Only the replaced objects' entries and re-indexed blobs are new;
	 * intact index objects stay as they are. */
	if (!r && rp->n)
		r = vault_index_write(rp->v, &rp->c, &rp->bi, rp->recs, rp->n, NULL, 0);
	for (i = 0; !r && i < rp->replace.n; i++) {
		r = backend_del(rp->v->be, rp->replace.names[i]);
		if (!r)
			crashpoint("repair.index-replaced");
	}
	name_list_free(&idx);
	return r;
}

int vault_repair(struct vault *v, struct repair_report *rep)
{
	struct repair rp = { .v = v, .rep = rep };
	int r;

	memset(rep, 0, sizeof(*rep));
	if (!v->lock)
		return -ENOLCK;
	r = bindex_init(&rp.bi);
	if (!r)
		r = blob_ctx_init(&rp.c, v);
	if (!r)
		r = run(&rp);
	blob_ctx_free(&rp.c);
	bindex_free(&rp.bi);
	name_list_free(&rp.packs);
	name_list_free(&rp.replace);
	free(rp.indexed);
	free(rp.recs);
	return r;
}

void repair_report_free(struct repair_report *rep)
{
	name_list_free(&rep->damaged_idx);
	name_list_free(&rep->old_packs);
	name_list_free(&rep->bad_packs);
	name_list_free(&rep->missing_packs);
	name_list_free(&rep->lost);
}

static int judge(const struct bindex *bi, const uint8_t *id, const uint8_t *present,
		 struct point_damage *d)
{
	struct bloc loc;
	char name[80];

	if (!bindex_get(bi, id, &loc)) {
		d->unlisted++;
		return 1;
	}
	if (loc.pack >= bi->npacks || present[loc.pack])
		return 0;
	d->in_missing++;
	bindex_pack_name(bi->packs[loc.pack], name, sizeof(name));
	return add_once(&d->packs, name) < 0 ? -ENOMEM : 1;
}

struct judge_arg {
	const struct bindex *bi;
	const uint8_t *present;
	struct point_damage *d;
};

static int judge_blob(const uint8_t *id, int is_seg, void *arg)
{
	struct judge_arg *a = arg;

	return judge(a->bi, id, a->present, a->d);
}

int vault_point_damage(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		       const struct manifest *m, const uint8_t *present,
		       struct point_damage *d)
{
	struct judge_arg a = { bi, present, d };
	int r = vault_point_walk(v, bi, c, m, judge_blob, &a, NULL);

	name_list_sort(&d->packs);
	return r;
}

void point_damage_free(struct point_damage *d)
{
	name_list_free(&d->packs);
}
