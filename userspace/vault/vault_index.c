// SPDX-License-Identifier: GPL-2.0
/*
 * The location index: loading every index object into a bindex, and
 * reading one blob by id through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault_index.h"
#include "vault/vault_sealed.h"

static int index_name_ok(const char *name, char *sid, size_t sidlen)
{
	const char *base = name + strlen("index/");
	size_t n = strlen(base);

	if (n != 32 + 4 || strcmp(base + 32, ".idx"))
		return 0;
	snprintf(sid, sidlen, "%.32s", base);
	return 1;
}

int vault_index_load_one(struct vault *v, struct bindex *bi, struct blob_ctx *c,
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

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int pack_listed(const struct name_list *packs, const uint8_t *pid)
{
	char name[80];
	const char *p = name;

	bindex_pack_name(pid, name, sizeof(name));
	return packs->n && bsearch(&p, packs->names, packs->n, sizeof(char *), cmp_pstr);
}

int vault_index_merge_one(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			  const char *name, const struct name_list *packs)
{
	struct bindex tb;
	uint32_t *map = NULL;
	uint8_t *here = NULL;
	size_t i;
	int r = bindex_init(&tb);

	if (!r)
		r = vault_index_load_one(v, &tb, c, name);
	if (!r) {
		map = malloc((tb.npacks + 1) * sizeof(*map));
		here = calloc(tb.npacks + 1, 1);
		r = map && here ? 0 : -ENOMEM;
	}
	for (i = 0; !r && i < tb.npacks; i++) {
		here[i] = (uint8_t)pack_listed(packs, tb.packs[i]);
		r = bindex_add_pack(bi, tb.packs[i], &map[i]);
	}
	for (i = 0; !r && i < tb.cap; i++) {
		struct bindex_ent *e = &tb.tab[i];
		struct bloc old, loc;

		if (!e->used)
			continue;
		loc = e->loc;
		loc.pack = map[e->loc.pack];
		if (!bindex_get(bi, e->id, &old))
			r = bindex_put(bi, e->id, &loc, 0);
		else if (here[e->loc.pack] && !pack_listed(packs, bi->packs[old.pack]))
			r = bindex_put(bi, e->id, &loc, 1);	/* a copy that exists */
		r = r < 0 ? r : 0;
	}
	free(map);
	free(here);
	bindex_free(&tb);
	return r;
}

int vault_index_load(struct vault *v, struct bindex *bi, struct name_list *damaged)
{
	struct name_list l = { 0 }, packs = { 0 };
	struct blob_ctx c;
	size_t i;
	int r;

	r = blob_ctx_init(&c, v);
	if (r < 0)
		return r;
	r = backend_list(v->be, "packs/", &packs);
	if (!r)
		r = backend_list(v->be, "index/", &l);
	for (i = 0; !r && i < l.n; i++) {
		int e = vault_index_merge_one(v, bi, &c, l.names[i], &packs);

		if (e == -ENOMEM)
			r = e;
		else if (e < 0 && damaged)
			r = name_list_add(damaged, l.names[i]);
	}
	name_list_free(&l);
	name_list_free(&packs);
	blob_ctx_free(&c);
	return r;
}

int vault_index_packs_present(struct vault *v, const struct bindex *bi,
			      uint8_t **present)
{
	struct name_list packs = { 0 };
	char name[80];
	const char *p = name;
	size_t i;
	int r;

	*present = calloc(bi->npacks ? bi->npacks : 1, 1);
	if (!*present)
		return -ENOMEM;
	r = backend_list(v->be, "packs/", &packs);
	for (i = 0; !r && i < bi->npacks; i++) {
		bindex_pack_name(bi->packs[i], name, sizeof(name));
		(*present)[i] = packs.n && bsearch(&p, packs.names, packs.n,
						   sizeof(char *), cmp_pstr);
	}
	name_list_free(&packs);
	if (r < 0) {
		free(*present);
		*present = NULL;
	}
	return r;
}

int vault_index_drop_missing(struct vault *v, struct bindex *bi)
{
	size_t before = bi->n;
	uint8_t *present;
	int r = vault_index_packs_present(v, bi, &present);

	if (!r)
		r = bindex_filter(bi, present);
	free(present);
	return r < 0 ? r : (int)MIN(before - bi->n, (size_t)INT32_MAX);
}

int vault_index_write(struct vault *v, struct blob_ctx *c, const struct bindex *bi,
		      const struct bindex_rec *recs, size_t n, char *first,
		      size_t firstlen)
{
	uint8_t sid[16], *buf;
	char hex[33], name[64];
	size_t k, part, blen;
	int r = 0;

	for (k = 0; !r && k < n; k += part) {
		part = MIN(n - k, (size_t)INDEX_PART_RECS);
		r = bindex_encode(bi, recs + k, part, &buf, &blen);
		if (r < 0)
			break;
		r = crypto_random(sid, sizeof(sid));
		hex_encode(sid, sizeof(sid), hex);
		snprintf(name, sizeof(name), "index/%s.idx", hex);
		if (!r)
			r = vault_put_sealed(v, c, BLOB_INDEX, name, hex, buf, blen);
		if (!r)
			crashpoint("index.written");
		free(buf);
		if (!r && !k && first)
			snprintf(first, firstlen, "%s", name);
	}
	return r;
}

int vault_blob_locate(struct bindex *bi, const uint8_t id[32], struct bloc *loc,
		      char *name)
{
	int found;

	pthread_mutex_lock(&bi->mu);
	found = bindex_get(bi, id, loc) && loc->pack != BLOC_PENDING;
	if (found)
		bindex_pack_name(bi->packs[loc->pack], name, 80);
	pthread_mutex_unlock(&bi->mu);
	return found ? 0 : -ENOENT;
}

int vault_blob_read(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		    const uint8_t id[32], uint8_t type, uint8_t *out, size_t max,
		    size_t *len)
{
	char name[80];
	struct bloc loc;
	uint8_t *buf;
	int r;

	r = vault_blob_locate(bi, id, &loc, name);
	if (r < 0)
		return r;
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
