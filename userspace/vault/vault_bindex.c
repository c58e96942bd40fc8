// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "vault/vault.h"
#include "vault/vault_bindex.h"

int bindex_init(struct bindex *b)
{
	memset(b, 0, sizeof(*b));
	b->cap = 1 << 12;
	b->tab = calloc(b->cap, sizeof(*b->tab));
	if (!b->tab)
		return -ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	return 0;
}

void bindex_free(struct bindex *b)
{
	if (!b->tab)
		return;
	free(b->tab);
	free(b->packs);
	pthread_mutex_destroy(&b->mu);
	memset(b, 0, sizeof(*b));
}

static size_t slot_of(const struct bindex_ent *tab, size_t cap, const uint8_t *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	for (i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!tab[i].used || !memcmp(tab[i].id, id, 32))
			return i;
}

static int grow(struct bindex *b)
{
	size_t cap = b->cap * 2, i;
	struct bindex_ent *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < b->cap; i++)
		if (b->tab[i].used)
			t[slot_of(t, cap, b->tab[i].id)] = b->tab[i];
	free(b->tab);
	b->tab = t;
	b->cap = cap;
	return 0;
}

int bindex_get(const struct bindex *b, const uint8_t id[32], struct bloc *out)
{
	size_t i = slot_of(b->tab, b->cap, id);

	if (!b->tab[i].used)
		return 0;
	if (out)
		*out = b->tab[i].loc;
	return 1;
}

int bindex_put(struct bindex *b, const uint8_t id[32], const struct bloc *loc,
	       int replace)
{
	size_t i;
	int r;

	if ((b->n + 1) * 4 > b->cap * 3) {
		r = grow(b);
		if (r < 0)
			return r;
	}
	i = slot_of(b->tab, b->cap, id);
	if (b->tab[i].used) {
		if (replace)
			b->tab[i].loc = *loc;
		return 0;
	}
	memcpy(b->tab[i].id, id, 32);
	b->tab[i].loc = *loc;
	b->tab[i].used = 1;
	b->n++;
	return 1;
}

int bindex_add_pack(struct bindex *b, const uint8_t pid[PACK_ID_LEN], uint32_t *idx)
{
	if (b->npacks >= UINT32_MAX - 1)
		return -EOVERFLOW;
	if (b->npacks == b->pcap) {
		size_t cap = b->pcap ? b->pcap * 2 : 64;
		void *p = realloc(b->packs, cap * PACK_ID_LEN);

		if (!p)
			return -ENOMEM;
		b->packs = p;
		b->pcap = cap;
	}
	memcpy(b->packs[b->npacks], pid, PACK_ID_LEN);
	*idx = (uint32_t)b->npacks++;
	return 0;
}

int bindex_filter(struct bindex *b, const uint8_t *keep)
{
	struct bindex_ent *t = calloc(b->cap, sizeof(*t));
	size_t i, n = 0;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < b->cap; i++) {
		struct bindex_ent *e = &b->tab[i];

		if (!e->used || (e->loc.pack < b->npacks && !keep[e->loc.pack]))
			continue;
		t[slot_of(t, b->cap, e->id)] = *e;
		n++;
	}
	free(b->tab);
	b->tab = t;
	b->n = n;
	return 0;
}

void bindex_pack_name(const uint8_t pid[PACK_ID_LEN], char *name, size_t len)
{
	char hex[2 * PACK_ID_LEN + 1];

	hex_encode(pid, PACK_ID_LEN, hex);
	snprintf(name, len, "packs/%.2s/%s.pack", hex, hex);
}

static int map_packs(const struct bindex *b, const struct bindex_rec *recs,
		     size_t n, uint32_t *map, uint32_t *nlocal)
{
	size_t i;

	*nlocal = 0;
	for (i = 0; i < b->npacks; i++)
		map[i] = UINT32_MAX;
	for (i = 0; i < n; i++) {
		uint32_t p = recs[i].loc.pack;

		if (p >= b->npacks)
			return -EINVAL;
		if (map[p] == UINT32_MAX)
			map[p] = (*nlocal)++;
	}
	return 0;
}

int bindex_encode(const struct bindex *b, const struct bindex_rec *recs, size_t n,
		  uint8_t **out, size_t *len)
{
	uint32_t *map = malloc((b->npacks + 1) * sizeof(*map)), np, i;
	uint8_t *buf, *p;
	size_t total, k;
	int r;

	if (!map)
		return -ENOMEM;
	r = map_packs(b, recs, n, map, &np);
	total = 16 + (size_t)np * PACK_ID_LEN + n * BINDEX_REC_LEN;
	buf = r ? NULL : calloc(1, total);
	if (!buf) {
		free(map);
		return r ? r : -ENOMEM;
	}
	memcpy(buf, "CSX1", 4);
	put_le32(buf + 4, np);
	put_le32(buf + 8, (uint32_t)n);
	for (i = 0; i < b->npacks; i++)
		if (map[i] != UINT32_MAX)
			memcpy(buf + 16 + (size_t)map[i] * PACK_ID_LEN, b->packs[i], PACK_ID_LEN);
	p = buf + 16 + (size_t)np * PACK_ID_LEN;
	for (k = 0; k < n; k++, p += BINDEX_REC_LEN) {
		memcpy(p, recs[k].id, 32);
		put_le32(p + 32, map[recs[k].loc.pack]);
		put_le32(p + 36, recs[k].loc.off);
		put_le32(p + 40, recs[k].loc.len);
		p[44] = recs[k].loc.type;
	}
	free(map);
	*out = buf;
	*len = total;
	return 0;
}

static int rec_ok(const uint8_t *p, uint32_t np, uint32_t max_blob)
{
	static const uint8_t zero[32];
	uint32_t off = get_le32(p + 36), len = get_le32(p + 40);

	return memcmp(p, zero, 32) && get_le32(p + 32) < np &&
	       len >= 36 && len <= max_blob && off <= VAULT_PACK_MAX &&
	       (uint64_t)off + len <= 2ULL * VAULT_PACK_MAX && p[44] &&
	       !p[45] && !p[46] && !p[47];
}

int bindex_decode(struct bindex *b, const uint8_t *buf, size_t len, uint32_t max_blob)
{
	uint32_t np, nr, i, base = (uint32_t)b->npacks, idx;
	const uint8_t *p;
	int r = 0;

	if (len < 16 || memcmp(buf, "CSX1", 4) || get_le32(buf + 12))
		return -EUCLEAN;
	np = get_le32(buf + 4);
	nr = get_le32(buf + 8);
	if ((uint64_t)np * PACK_ID_LEN + (uint64_t)nr * BINDEX_REC_LEN != len - 16)
		return -EUCLEAN;
	for (i = 0; i < nr; i++)
		if (!rec_ok(buf + 16 + (size_t)np * PACK_ID_LEN + (size_t)i * BINDEX_REC_LEN,
			    np, max_blob))
			return -EUCLEAN;
	for (i = 0; !r && i < np; i++)
		r = bindex_add_pack(b, buf + 16 + (size_t)i * PACK_ID_LEN, &idx);
	p = buf + 16 + (size_t)np * PACK_ID_LEN;
	for (i = 0; r >= 0 && i < nr; i++, p += BINDEX_REC_LEN) {
		struct bloc loc = {
			.pack = base + get_le32(p + 32),
			.off = get_le32(p + 36),
			.len = get_le32(p + 40),
			.type = p[44],
		};

		r = bindex_put(b, p, &loc, 0);
	}
	return r < 0 ? r : 0;
}
