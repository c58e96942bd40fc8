// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_disk.h"
#include "vault/vault_escrow.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"
#include "vault/vault_points.h"
#include "vault/vault_rotate.h"

#define JOURNAL "rotation.json"

struct journal {
	uint32_t new_gen;
	int generated, old_generated;
	char new_file[PATH_MAX];
	char old_file[PATH_MAX];	/* removed on completion when generated */
};

static int journal_write(struct vault *v, const struct journal *j)
{
	json_object *o = json_object_new_object();
	char *s;
	size_t n;
	int r;

	json_object_object_add(o, "new_gen", json_object_new_int64(j->new_gen));
	json_object_object_add(o, "generated", json_object_new_boolean(j->generated));
	json_object_object_add(o, "new_file", json_object_new_string(j->new_file));
	json_object_object_add(o, "old_generated", json_object_new_boolean(j->old_generated));
	json_object_object_add(o, "old_file", json_object_new_string(j->old_file));
	r = vj_dump(o, &s, &n);
	json_object_put(o);
	if (r < 0)
		return r;
	r = backend_put(v->be, JOURNAL, s, n);
	free(s);
	return r;
}

static int journal_read(struct vault *v, struct journal *j)
{
	json_object *o, *g;
	const char *f;
	uint64_t gen;
	void *buf;
	size_t len;
	int r;

	r = backend_get(v->be, JOURNAL, 65536, &buf, &len);
	if (r < 0)
		return r;
	r = vj_parse(buf, len, &o);
	free(buf);
	if (r < 0)
		return r;
	if (vj_u64(o, "new_gen", &gen) || !gen || gen > UINT32_MAX ||
	    vj_str(o, "new_file", &f) || strlen(f) >= PATH_MAX ||
	    !json_object_object_get_ex(o, "generated", &g))
		r = -EUCLEAN;
	if (!r) {
		j->new_gen = (uint32_t)gen;
		j->generated = json_object_get_boolean(g);
		snprintf(j->new_file, sizeof(j->new_file), "%s", f);
		/* Optional: journals of older tools do not name the old KEK. */
		j->old_generated = json_object_object_get_ex(o, "old_generated", &g) &&
				   json_object_get_boolean(g) && !vj_str(o, "old_file", &f) &&
				   strlen(f) < PATH_MAX;
		if (j->old_generated)
			snprintf(j->old_file, sizeof(j->old_file), "%s", f);
	}
	json_object_put(o);
	return r;
}

struct rewrap_arg {
	const struct vault_kek *kek;
	uint32_t gen;
};

/* Point callbacks return 1: every point is rewritten, changed or not. */
static int add_wraps(struct vault *v, struct manifest *m, void *arg)
{
	struct rewrap_arg *a = arg;
	unsigned int i;
	int r = 0;

	for (i = 0; !r && i < m->nescrow; i++)
		r = escrow_rewrap(v, &m->escrow[i], a->kek, a->gen);
	return r < 0 ? r : 1;
}

static int keep_gen(struct vault *v, struct manifest *m, void *arg)
{
	uint32_t gen = *(uint32_t *)arg;
	unsigned int i;

	for (i = 0; i < m->nescrow; i++)
		if (m->escrow[i].kind == ESCROW_KEK)
			escrow_keep_gen(&m->escrow[i], gen);
	return 1;
}

/* Disk records' key slots go through the same phases as points' slots;
 * return 1 when the slot changed so only those records are rewritten. */
static int disk_add_wrap(struct vault *v, struct escrow_slot *e, void *arg)
{
	struct rewrap_arg *a = arg;
	unsigned int i;
	int r;

	for (i = 0; i < e->nwraps; i++)
		if (e->wraps[i].gen == a->gen)
			return 0;	/* done before an interruption */
	r = escrow_rewrap(v, e, a->kek, a->gen);
	return r < 0 ? r : 1;
}

static int disk_keep_gen(struct vault *v, struct escrow_slot *e, void *arg)
{
	unsigned int before = e->nwraps;

	escrow_keep_gen(e, *(uint32_t *)arg);
	return e->nwraps != before;
}

/* Phase 2 (add) or phase 4 / rollback (keep) over points and disks. */
static int add_all_wraps(struct vault *v, struct rewrap_arg *a)
{
	int r = vault_point_for_each(v, 1, add_wraps, a, NULL);

	return r ? r : vault_disk_for_each_key(v, disk_add_wrap, a);
}

static int keep_all_gen(struct vault *v, uint32_t gen)
{
	int r = vault_point_for_each(v, 1, keep_gen, &gen, NULL);

	return r ? r : vault_disk_for_each_key(v, disk_keep_gen, &gen);
}

static int commit_keys(struct vault *v, struct vault_kek *kek, uint32_t gen,
		       const char *file)
{
	struct vault_keys *k = v->keys;
	struct vault_keys next = *k;
	char *s;
	size_t n;
	int r;

	next.kek = kek;
	next.gen = gen;
	next.mode = kek->mode;
	memcpy(next.fp, kek->fp, KEK_FP_LEN);
	snprintf(next.kek_file, sizeof(next.kek_file), "%s", file);
	r = keys_encode(&next, &s, &n);
	if (r < 0)
		return r;
	r = backend_put(v->be, KEYS_OBJECT, s, n);
	free(s);
	if (r < 0)
		return r;
	kek_free(k->kek);
	k->kek = kek;
	k->gen = gen;
	k->mode = kek->mode;
	memcpy(k->fp, kek->fp, KEK_FP_LEN);
	snprintf(k->kek_file, sizeof(k->kek_file), "%s", file);
	return 0;
}

static int finish(struct vault *v, const char *old_file, int old_generated)
{
	int r = keep_all_gen(v, v->keys->gen);

	if (!r)
		r = backend_del(v->be, JOURNAL);
	/* The retired vault-managed KEK must not outlive the switch. */
	if (!r && old_generated && old_file)
		unlink(old_file);
	return r;
}

static int is_generated(const struct vault *v, const char *file)
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	return v->keys->mode == KEK_MODE_VAULT && !strncmp(base, v->id_hex, 32) &&
	       base[32] == '-';
}

static int new_kek(struct vault *v, const char *file, struct journal *j,
		   struct vault_kek **kek)
{
	char dir[PATH_MAX], orphan[PATH_MAX + 48], *slash;
	int r;

	j->new_gen = v->keys->gen + 1;
	if (file) {
		if (!realpath(file, j->new_file))
			return -errno;
		r = kek_load(j->new_file, kek);
		if (!r && v->keys->mode == KEK_MODE_CUSTOMER && (*kek)->mode != KEK_MODE_CUSTOMER) {
			kek_free(*kek);
			r = -EOPNOTSUPP;
		}
		return r;
	}
	if (v->keys->mode == KEK_MODE_CUSTOMER)
		return -EOPNOTSUPP;
	snprintf(dir, sizeof(dir), "%s", v->keys->kek_file);
	slash = strrchr(dir, '/');
	if (!slash || !is_generated(v, v->keys->kek_file))
		snprintf(dir, sizeof(dir), "%s", vault_key_dir());
	else
		*slash = 0;
	j->generated = 1;
	/* A key file of the next generation without a journal was left by a
	 * rotation that died before its journal, or by a rollback that died
	 * before removing it: nothing is wrapped by it, and it would block
	 * every later rotation. */
	snprintf(orphan, sizeof(orphan), "%s/%s-%u.kek", dir, v->id_hex, j->new_gen);
	unlink(orphan);
	return kek_generate(dir, v->id_hex, j->new_gen, j->new_file, sizeof(j->new_file), kek);
}

int vault_rotate(struct vault *v, const char *file, char *new_path, size_t len)
{
	struct journal j = { 0 };
	struct vault_kek *kek = NULL;
	char old_file[PATH_MAX], detail[PATH_MAX + 64];
	int old_generated, r;
	struct rewrap_arg a;

	r = vault_rotate_recover(v);
	if (r < 0)
		return r;
	r = new_kek(v, file, &j, &kek);
	if (r < 0)
		return r;
	if (!memcmp(kek->fp, v->keys->fp, KEK_FP_LEN)) {
		kek_free(kek);
		return -EALREADY;
	}
	snprintf(old_file, sizeof(old_file), "%s", v->keys->kek_file);
	old_generated = is_generated(v, old_file);
	j.old_generated = old_generated;
	snprintf(j.old_file, sizeof(j.old_file), "%s", old_file);
	a.kek = kek;
	a.gen = j.new_gen;
	r = journal_write(v, &j);
	if (!r)
		r = add_all_wraps(v, &a);
	if (!r)
		r = commit_keys(v, kek, j.new_gen, j.new_file);
	if (r < 0) {
		kek_free(kek);
		vault_rotate_recover(v);
		return r;
	}
	snprintf(detail, sizeof(detail), "gen %u, %s, %s", j.new_gen,
		 kek_mode_name(v->keys->mode), j.new_file);
	vault_log_event(v, "key-rotate", detail);
	snprintf(new_path, len, "%s", j.new_file);
	return finish(v, old_file, old_generated);
}

int vault_rotate_recover(struct vault *v)
{
	struct journal j;
	uint32_t gen = v->keys->gen;
	int r = journal_read(v, &j);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (gen == j.new_gen) {
		r = finish(v, j.old_file, j.old_generated);
		if (!r)
			vault_log_event(v, "key-rotate-completed", j.new_file);
		return r;
	}
	/* Not committed: drop the new wrappings and the new key. */
	r = keep_all_gen(v, gen);
	if (!r)
		r = backend_del(v->be, JOURNAL);
	if (!r && j.generated)
		unlink(j.new_file);
	if (!r)
		vault_log_event(v, "key-rotate-rolled-back", j.new_file);
	return r;
}
