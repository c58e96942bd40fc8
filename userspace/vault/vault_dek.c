// SPDX-License-Identifier: GPL-2.0
/* DEK use counting and replacement (vault_dek.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crashpoint.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_dek.h"
#include "vault/vault_keys.h"
#include "vault/vault_pin.h"

#define USAGE_PREFIX	"usage/"
#define USAGE_MAX	256		/* bytes of one record */

int vault_dek_usage_flush(struct vault *v)
{
	uint64_t n = v->keys ? __atomic_exchange_n(&v->keys->session_sealed, 0,
						    __ATOMIC_RELAXED) : 0;
	char name[96], id[32], body[96];
	int len, r;

	if (!n)
		return 0;
	make_time_id(time(NULL), id, sizeof(id));
	snprintf(name, sizeof(name), USAGE_PREFIX "%s.json", id);
	len = snprintf(body, sizeof(body), "{\"dek\":%u,\"blobs\":%llu}",
		       v->keys->cur_dek, (unsigned long long)n);
	r = backend_put(v->be, name, body, (size_t)len);
	if (!r)
		crashpoint("dek.usage-written");
	return r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void add_sealed(const struct vault_keys *k, uint64_t *add, uint64_t dek, uint64_t n)
{
	unsigned int i;

	for (i = 0; i < k->ndeks; i++)
		if (k->dek_id[i] == dek)
			add[i] = sat_add(add[i], n);
}

/* Adds every usage record to the keyring's counts; a record that does not
 * parse is counted as nothing and deleted with the rest (it is not
 * authenticated: see docs/security.md, accepted risks). */
static int fold_usage(struct vault *v, struct name_list *names, uint64_t *add)
{
	size_t i;
	int r = backend_list(v->be, USAGE_PREFIX, names);

	for (i = 0; !r && i < names->n; i++) {
		uint64_t dek, blobs;
		json_object *o;
		void *buf;
		size_t len;

		if (backend_get(v->be, names->names[i], USAGE_MAX, &buf, &len) < 0)
			continue;
		if (!vj_parse(buf, len, &o)) {
			if (!vj_u64(o, "dek", &dek) && !vj_u64(o, "blobs", &blobs))
				add_sealed(v->keys, add, dek, blobs);
			json_object_put(o);
		}
		free(buf);
	}
	return r;
}

static int cur_index(const struct vault_keys *k)
{
	unsigned int i;

	for (i = 0; i < k->ndeks; i++)
		if (k->dek_id[i] == k->cur_dek)
			return (int)i;
	return -1;
}

static int put_keys(struct vault *v)
{
	char *s;
	size_t n;
	int r = keys_encode(v->keys, &s, &n);

	if (r < 0)
		return r;
	r = backend_put(v->be, KEYS_OBJECT, s, n);
	if (!r)
		crashpoint("dek.keyring-written");
	free(s);
	return r;
}

/* A new DEK changes the keyring digest the host pins: the pin names the
 * new keyring as "next" before it is put, so a crash on either side of
 * the put leaves a keyring the host accepts (vault_unlock()). */
static int roll(struct vault *v, struct vault_pin *pin)
{
	struct vault_keys *k = v->keys;
	uint8_t prev = k->cur_dek;
	int r = keys_add_dek(k);

	if (r < 0)
		return r;
	r = vault_pin_from_keys(k, &pin->next);
	pin->has_next = !r;
	pin->next_generated = 0;
	if (!r)
		r = vault_pin_save(v, pin);
	if (!r)
		r = put_keys(v);
	if (r < 0) {
		keys_drop_dek(k, prev);
		if (pin->has_next) {
			pin->has_next = 0;
			vault_pin_save(v, pin);
		}
		return r;
	}
	pin->cur = pin->next;
	pin->has_next = 0;
	return vault_pin_save(v, pin);
}

int vault_dek_maintain(struct vault *v, unsigned int flags, unsigned int *rolled)
{
	int force = !!(flags & DEK_ROLL);
	uint64_t add[VAULT_MAX_DEKS] = { 0 };
	struct name_list names = { 0 };
	struct vault_pin pin;
	int r, cur, want_roll;
	size_t i;

	*rolled = 0;
	r = vault_pin_load(v, &pin);
	if (!r && !vault_pin_matches(&pin.cur, v->keys))
		r = -EKEYREVOKED;
	if (r < 0)
		return r == -ENOENT ? -ENOKEY : r;
	r = vault_dek_usage_flush(v);
	if (!r)
		r = fold_usage(v, &names, add);
	cur = cur_index(v->keys);
	if (r < 0 || cur < 0) {
		name_list_free(&names);
		return r < 0 ? r : -EUCLEAN;
	}
	want_roll = force || sat_add(v->keys->sealed[cur], add[cur]) >= DEK_BUDGET;
	if (!want_roll && (flags & DEK_LAZY) && names.n < DEK_USAGE_FOLD) {
		name_list_free(&names);
		return 0;	/* the records stay for a later fold */
	}
	for (i = 0; i < v->keys->ndeks; i++)
		v->keys->sealed[i] = sat_add(v->keys->sealed[i], add[i]);
	if (want_roll) {
		r = roll(v, &pin);
		if (!r)
			*rolled = v->keys->cur_dek;
		if (r == -ENOSPC)
			r = 0;	/* every id used: keep sealing with the last */
	}
	if (!r && !*rolled && names.n)
		r = put_keys(v);
	/* Counted in the keyring now (a crash before these deletes counts
	 * them twice, which only brings the next DEK sooner). */
	for (i = 0; !r && i < names.n; i++)
		if (!backend_del(v->be, names.names[i]))
			crashpoint("dek.usage-folded");
	name_list_free(&names);
	if (!r && *rolled) {
		char detail[64];

		snprintf(detail, sizeof(detail), "dek %u (%s)", *rolled,
			 force ? "requested" : "use budget reached");
		vault_log_event(v, "dek-roll", detail);
	}
	return r;
}

/* What the lazy maintenance would find, read without a lock: usage
 * records are only ever added or deleted whole, so a count that races a
 * fold is at worst stale, and the fold itself runs under the lock. */
static int dek_due(struct vault *v)
{
	uint64_t add[VAULT_MAX_DEKS] = { 0 };
	struct name_list names = { 0 };
	int cur = cur_index(v->keys);
	int due;

	if (fold_usage(v, &names, add) < 0 || cur < 0) {
		name_list_free(&names);
		return 1;	/* let the locked pass find and report it */
	}
	due = names.n >= DEK_USAGE_FOLD ||
	      sat_add(v->keys->sealed[cur], add[cur]) >= DEK_BUDGET;
	name_list_free(&names);
	return due;
}

/*
 * Takes the exclusive lock only when there is work: every backup taking
 * it, however briefly, made a second backup starting in that moment (on
 * this host or another) fail its shared lock with exit 6.
 */
int vault_dek_before_backup(struct vault *v)
{
	unsigned int rolled;
	int r;

	if (v->lock || !v->keys || !dek_due(v) || vault_lock(v, VAULT_LOCK_EXCLUSIVE) < 0)
		return 0;
	r = vault_dek_maintain(v, DEK_LAZY, &rolled);
	vault_lock_release(v);
	return r;
}
