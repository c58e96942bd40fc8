// SPDX-License-Identifier: GPL-2.0
/* The catalogue of points (vault_catalogue.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/vault_seen.h"
#include "vault/vault_catalogue.h"
#include "vault/vault_points.h"
#include "vault/vault_sealed.h"

#define CAT_FORMAT	1
#define CAT_MAX		(64U << 20)
#define CAT_TRIES	64
/* Re-reads of a version that is missing or does not authenticate. */
#define CAT_READ_TRIES		3
#define CAT_READ_BACKOFF_MS	100

static const char *const state_names[] = { "ok", "pending", "deleting" };

/* ---- codec ---------------------------------------------------------- */

int catalogue_encode(const struct catalogue *cat, char **out, size_t *len)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;
	int r;

	json_object_object_add(o, "format", json_object_new_int(CAT_FORMAT));
	json_object_object_add(o, "counter", json_object_new_int64((int64_t)cat->counter));
	for (i = 0; i < cat->n; i++) {
		const struct cat_entry *e = &cat->e[i];
		json_object *p = json_object_new_object();

		json_object_object_add(p, "id", json_object_new_string(e->id));
		vj_add_hex(p, "hash", e->hash, 32);
		json_object_object_add(p, "state", json_object_new_string(state_names[e->state]));
		if (e->has_next)
			vj_add_hex(p, "next", e->next, 32);
		json_object_array_add(a, p);
	}
	json_object_object_add(o, "points", a);
	r = vj_dump(o, out, len);
	json_object_put(o);
	return r;
}

struct cat_entry *catalogue_find(struct catalogue *cat, const char *id)
{
	size_t i;

	for (i = 0; i < cat->n; i++)
		if (!strcmp(cat->e[i].id, id))
			return &cat->e[i];
	return NULL;
}

static struct cat_entry *entry_add(struct catalogue *cat, const char *id)
{
	struct cat_entry *e;

	if (cat->n == cat->cap) {
		size_t cap = cat->cap ? cat->cap * 2 : 64;
		void *p = realloc(cat->e, cap * sizeof(*cat->e));

		if (!p)
			return NULL;
		cat->e = p;
		cat->cap = cap;
	}
	e = &cat->e[cat->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	return e;
}

static int decode_entry(struct catalogue *cat, json_object *p)
{
	const char *id, *st;
	struct cat_entry *e;
	json_object *nx;
	int s;

	if (vj_str(p, "id", &id) || !point_id_valid(id) || catalogue_find(cat, id) ||
	    vj_str(p, "state", &st))
		return -EUCLEAN;
	for (s = 0; s < 3 && strcmp(st, state_names[s]); s++)
		;
	if (s == 3)
		return -EUCLEAN;
	e = entry_add(cat, id);
	if (!e)
		return -ENOMEM;
	e->state = (uint8_t)s;
	if (vj_hex(p, "hash", e->hash, 32))
		return -EUCLEAN;
	if (json_object_object_get_ex(p, "next", &nx)) {
		if (vj_hex(p, "next", e->next, 32))
			return -EUCLEAN;
		e->has_next = 1;
	}
	return 0;
}

int catalogue_decode(const char *buf, size_t len, uint64_t counter,
		     struct catalogue *cat)
{
	json_object *o = NULL, *a;
	uint64_t fmt, cnt;
	size_t i, n;
	int r;

	memset(cat, 0, sizeof(*cat));
	r = vj_parse(buf, len, &o);
	if (!r && (vj_u64(o, "format", &fmt) || fmt != CAT_FORMAT))
		r = -EPROTONOSUPPORT;
	if (!r && (vj_u64(o, "counter", &cnt) || cnt != counter ||
		   vj_array(o, "points", &a, &n)))
		r = -EUCLEAN;
	for (i = 0; !r && i < n; i++)
		r = decode_entry(cat, json_object_array_get_idx(a, i));
	cat->counter = counter;
	json_object_put(o);
	if (r < 0)
		catalogue_free(cat);
	return r < 0 ? (r == -ENOMEM || r == -EPROTONOSUPPORT ? r : -EUCLEAN) : 0;
}

void catalogue_free(struct catalogue *cat)
{
	free(cat->e);
	memset(cat, 0, sizeof(*cat));
}

/* ---- versions in the vault ----------------------------------------- */

static void version_name(uint64_t n, char *name, size_t len, char *idname, size_t idlen)
{
	snprintf(idname, idlen, "%016" PRIx64, n);
	snprintf(name, len, "catalogue/%s.cat", idname);
}

/* Highest counter among catalogue/<16 hex>.cat; 0 when none. */
static int newest(struct vault *v, uint64_t *counter)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, "catalogue/", &l);

	*counter = 0;
	for (i = 0; !r && i < l.n; i++) {
		const char *b = l.names[i] + strlen("catalogue/");
		char hex[17];
		uint64_t n = 0;
		int k;

		if (strlen(b) != 20 || strcmp(b + 16, ".cat"))
			continue;
		snprintf(hex, sizeof(hex), "%.16s", b);
		for (k = 0; k < 16 && strchr("0123456789abcdef", hex[k]); k++)
			n = n * 16 + (uint64_t)(strchr("0123456789abcdef", hex[k]) -
						"0123456789abcdef");
		if (k == 16 && n > *counter)
			*counter = n;
	}
	name_list_free(&l);
	return r;
}

static int load_once(struct vault *v, struct blob_ctx *c, uint64_t n,
		     struct catalogue *cat)
{
	char name[64], idname[20];
	uint8_t *buf;
	size_t len;
	int r;

	version_name(n, name, sizeof(name), idname, sizeof(idname));
	r = vault_get_sealed(v, c, BLOB_CATALOGUE, name, idname, CAT_MAX, &buf, &len);
	if (r < 0)
		return r == -ENOMEM || r == -ENOENT ? r : -EUCLEAN;
	r = catalogue_decode((const char *)buf, len, n, cat);
	free(buf);
	return r;
}

/*
 * Version n; -ENOENT when it does not exist.  A replicated store can
 * answer a read of a version being replicated with a 404 or with bytes
 * that do not authenticate (an older replica): both are read again, with
 * backoff, before they count.
 */
static int load_version(struct vault *v, struct blob_ctx *c, uint64_t n,
			struct catalogue *cat)
{
	unsigned int t;
	int r = load_once(v, c, n, cat);

	for (t = 0; t < CAT_READ_TRIES && (r == -ENOENT || r == -EUCLEAN); t++) {
		struct timespec ts = { 0, (long)CAT_READ_BACKOFF_MS * 1000000L << t };

		nanosleep(&ts, NULL);
		r = load_once(v, c, n, cat);
	}
	return r;
}

/* 1 when version n exists, asked by name: a listing may lag behind. */
static int version_exists(struct vault *v, uint64_t n)
{
	char name[64], idname[20];
	uint64_t size;
	int r;

	version_name(n, name, sizeof(name), idname, sizeof(idname));
	r = v->be->ops->size(v->be, name, &size);
	return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

/*
 * The newest version: the listing's newest, but never below what this
 * host saw (a listing of an eventually consistent store can miss new
 * objects: the version seen is then read by name, and only its absence
 * is a rollback), then on by name while the next version exists.
 */
static int newest_by_name(struct vault *v, uint64_t listed, uint64_t seen, uint64_t *n)
{
	int r;

	*n = MAX(listed, seen);
	while ((r = version_exists(v, *n + 1)) != 0) {
		if (r < 0)
			return r;
		(*n)++;
	}
	return 0;
}

/* Publishes cat as version cat->counter; -EEXIST when another writer won. */
static int publish(struct vault *v, struct blob_ctx *c, const struct catalogue *cat)
{
	char name[64], idname[20], *s;
	uint8_t id[BLOB_ID_LEN], *out;
	size_t len;
	int r;

	r = catalogue_encode(cat, &s, &len);
	if (r < 0)
		return r;
	version_name(cat->counter, name, sizeof(name), idname, sizeof(idname));
	blob_name_id(idname, id);
	out = malloc(len + BLOB_OVERHEAD);
	r = out ? blob_seal(c, BLOB_CATALOGUE, id, s, len, out) : -ENOMEM;
	if (!r)
		r = v->be->ops->put_new(v->be, name, out, len + BLOB_OVERHEAD);
	if (!r)
		crashpoint("catalogue.published");
	free(out);
	free(s);
	if (!r && cat->counter > CATALOGUE_KEEP) {
		version_name(cat->counter - CATALOGUE_KEEP, name, sizeof(name),
			     idname, sizeof(idname));
		if (!backend_del(v->be, name))	/* old versions: best effort */
			crashpoint("catalogue.old-deleted");
	}
	if (!r)
		r = vault_seen_put(v->id_hex, cat->counter);
	return r;
}

int vault_object_hash(struct vault *v, const char *name, size_t max, uint8_t h[32])
{
	void *buf;
	size_t len;
	int r = backend_get(v->be, name, max, &buf, &len);

	if (r == -EFBIG)
		return -EUCLEAN;
	if (r < 0)
		return r;
	r = crypto_sha256(buf, len, h);
	free(buf);
	return r;
}

static void point_obj(const char *id, char *name, size_t len)
{
	snprintf(name, len, "points/%s.point", id);
}

/* Every point present whose manifest opens, as version 1. */
static int build(struct vault *v, struct blob_ctx *c, struct catalogue *cat)
{
	struct name_list ids = { 0 };
	size_t i;
	int r = vault_point_ids(v, &ids);

	memset(cat, 0, sizeof(*cat));
	for (i = 0; !r && i < ids.n; i++) {
		struct cat_entry *e;
		struct manifest m;
		char name[64];
		uint8_t h[32];

		point_obj(ids.names[i], name, sizeof(name));
		if (vault_object_hash(v, name, MANIFEST_MAX + BLOB_OVERHEAD, h) < 0 ||
		    vault_point_load(v, c, ids.names[i], &m) < 0)
			continue;	/* check() reports it: not in the catalogue */
		manifest_free(&m);
		e = entry_add(cat, ids.names[i]);
		if (!e)
			r = -ENOMEM;
		else
			memcpy(e->hash, h, 32);
	}
	name_list_free(&ids);
	cat->counter = 1;
	if (r < 0)
		catalogue_free(cat);
	return r;
}

/* The newest version, refusing one older than this host saw (the version
 * this host saw is gone).  *absent when there is none and none was seen
 * (then cat is empty, counter 0). */
static int current(struct vault *v, struct blob_ctx *c, struct catalogue *cat,
		   int *absent, char *why, size_t whylen)
{
	uint64_t listed = 0, n = 0, seen = 0;
	int r;

	memset(cat, 0, sizeof(*cat));
	*absent = 0;
	r = vault_seen_get(v->id_hex, &seen);
	if (!r)
		r = newest(v, &listed);
	if (!r)
		r = newest_by_name(v, listed, seen, &n);
	if (r < 0)
		return r;
	if (!n) {
		*absent = 1;
		return 0;
	}
	r = load_version(v, c, n, cat);
	if (r == -ENOENT && n == seen && listed < seen) {
		if (why)
			snprintf(why, whylen, "catalogue of points went back to counter "
				 "%" PRIu64 ", this host saw %" PRIu64 " (replayed, rolled back "
				 "or deleted)", listed, seen);
		return -EUCLEAN;
	}
	if (r == -ENOENT)
		r = -EUCLEAN;
	if (r < 0 && r != -ENOMEM && why)
		snprintf(why, whylen, "catalogue of points version %" PRIu64
			 " cannot be read and authenticated", n);
	if (!r)
		r = vault_seen_put(v->id_hex, n);
	return r;
}

static int apply(struct catalogue *cat, enum cat_op op, const char *id,
		 const uint8_t *hash)
{
	struct cat_entry *e = catalogue_find(cat, id);

	switch (op) {
	case CAT_BEGIN_SAVE:
		if (!e) {
			e = entry_add(cat, id);
			if (!e)
				return -ENOMEM;
			e->state = CAT_PENDING;
			memcpy(e->hash, hash, 32);
		} else {
			memcpy(e->next, hash, 32);
			e->has_next = 1;
		}
		return 1;
	case CAT_END_SAVE:
		if (!e && !(e = entry_add(cat, id)))
			return -ENOMEM;
		memcpy(e->hash, hash, 32);
		e->has_next = 0;
		e->state = CAT_OK;
		return 1;
	case CAT_BEGIN_DELETE:
		if (!e)
			return 0;
		e->state = CAT_DELETING;
		return 1;
	case CAT_END_DELETE:
		if (!e)
			return 0;
		*e = cat->e[--cat->n];
		return 1;
	}
	return -EINVAL;
}

int vault_catalogue_update(struct vault *v, struct blob_ctx *c, enum cat_op op,
			   const char *id, const uint8_t hash[32])
{
	struct catalogue cat;
	int absent, r = -EAGAIN, t;

	for (t = 0; r == -EAGAIN && t < CAT_TRIES; t++) {
		r = current(v, c, &cat, &absent, NULL, 0);
		if (!r && absent)
			r = build(v, c, &cat);
		else if (!r)
			cat.counter++;
		if (!r)
			r = apply(&cat, op, id, hash);
		if (r > 0)
			r = publish(v, c, &cat);
		if (r == -EEXIST)
			r = -EAGAIN;	/* another writer published first */
		catalogue_free(&cat);
	}
	return r;
}

int vault_catalogue_ensure(struct vault *v, struct blob_ctx *c, uint64_t *built,
			   char *why, size_t whylen)
{
	struct catalogue cat;
	int absent, r, t;

	*built = 0;
	for (t = 0; t < CAT_TRIES; t++) {
		r = current(v, c, &cat, &absent, why, whylen);
		if (r < 0 || !absent) {
			catalogue_free(&cat);
			return r;
		}
		r = build(v, c, &cat);
		if (!r)
			r = publish(v, c, &cat);
		if (!r)
			*built = cat.n;
		catalogue_free(&cat);
		if (r != -EEXIST)
			return r;
	}
	return -EAGAIN;
}

/* ---- check ----------------------------------------------------------- */

static int damage(struct cat_check *out, const char *id, const char *what)
{
	char line[192];

	snprintf(line, sizeof(line), "point %s %s", id, what);
	return name_list_add(&out->damage, line);
}

static int check_entry(struct vault *v, const struct cat_entry *e, struct cat_check *out)
{
	char name[64];
	uint8_t h[32];
	int r;

	point_obj(e->id, name, sizeof(name));
	r = vault_object_hash(v, name, MANIFEST_MAX + BLOB_OVERHEAD, h);
	if (r == -ENOENT)
		return e->state != CAT_OK ? 0 :
		       damage(out, e->id, "was deleted: the catalogue lists it");
	if (r < 0 && r != -EUCLEAN)
		return r;
	if (!r && (!memcmp(h, e->hash, 32) || (e->has_next && !memcmp(h, e->next, 32))))
		return 0;
	return damage(out, e->id, "has a manifest that is not the one the "
		      "catalogue lists (rolled back or replaced)");
}

int vault_catalogue_check(struct vault *v, struct blob_ctx *c, struct cat_check *out)
{
	struct name_list ids = { 0 };
	struct catalogue cat;
	char why[192] = "";
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	vault_seen_get(v->id_hex, &out->seen);
	r = current(v, c, &cat, &out->absent, why, sizeof(why));
	if (r == -EUCLEAN)
		return name_list_add(&out->damage, why);
	if (r < 0 || out->absent)
		return r;
	out->counter = cat.counter;
	for (i = 0; !r && i < cat.n; i++)
		r = check_entry(v, &cat.e[i], out);
	if (!r)
		r = vault_point_ids(v, &ids);
	for (i = 0; !r && i < ids.n; i++)
		if (!catalogue_find(&cat, ids.names[i]))
			r = damage(out, ids.names[i], "is not in the catalogue "
				   "(replayed or planted)");
	name_list_free(&ids);
	catalogue_free(&cat);
	return r;
}

void cat_check_free(struct cat_check *out)
{
	name_list_free(&out->damage);
}
