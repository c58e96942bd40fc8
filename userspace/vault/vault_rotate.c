// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_disk.h"
#include "vault/vault_escrow.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"
#include "vault/vault_pin.h"
#include "vault/vault_points.h"
#include "vault/vault_rotate.h"

#define JOURNAL "rotation.json"
#define JOURNAL_MAX 4096

/*
 * The journal in the vault says only which generation a rotation switches
 * to.  Older builds also wrote key file paths ("new_file", "old_file"):
 * they are not read.  Which key files exist, and which may be deleted, is
 * known from this host's pin alone (vault_pin.h).
 */
struct journal {
	uint32_t new_gen;
};

static int journal_write(struct vault *v, const struct journal *j)
{
	json_object *o = json_object_new_object();
	char *s;
	size_t n;
	int r;

	json_object_object_add(o, "new_gen", json_object_new_int64(j->new_gen));
	r = vj_dump(o, &s, &n);
	json_object_put(o);
	if (r < 0)
		return r;
	r = backend_put(v->be, JOURNAL, s, n);
	if (!r)
		crashpoint("rotate.journal-written");
	free(s);
	return r;
}

int rotate_journal_decode(const void *buf, size_t len, uint32_t *new_gen)
{
	json_object *o;
	uint64_t gen;
	int r = vj_parse(buf, len, &o);

	if (r < 0)
		return r;
	if (vj_u64(o, "new_gen", &gen) || !gen || gen > UINT32_MAX)
		r = -EUCLEAN;
	else
		*new_gen = (uint32_t)gen;
	json_object_put(o);
	return r;
}

static int journal_read(struct vault *v, struct journal *j)
{
	void *buf;
	size_t len;
	int r;

	r = backend_get(v->be, JOURNAL, JOURNAL_MAX, &buf, &len);
	if (r == -EFBIG)
		r = -EUCLEAN;
	if (r < 0)
		return r;
	r = rotate_journal_decode(buf, len, &j->new_gen);
	free(buf);
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

/*
 * The keyring a rotation switches to: the current one under the new KEK
 * and generation, plus a new DEK (when an id is left) that becomes
 * current.  It lives only here until the commit: nothing is sealed with
 * the new DEK before keys.json holds it.
 */
static int next_keys(struct vault *v, struct vault_pin *pin, struct vault_kek *kek,
		     struct vault_keys *next, int *new_dek)
{
	int r;

	*next = *v->keys;
	next->kek = kek;
	next->gen = pin->next.gen;
	next->mode = pin->next.mode;
	memcpy(next->fp, kek->fp, KEK_FP_LEN);
	r = keys_add_dek(next);
	*new_dek = !r;
	if (r == -ENOSPC)
		r = 0;
	return r ? r : keys_digest(next, pin->next.digest);
}

/* Phase 3, the commit (takes kek and the new DEK): keys.json under the new
 * KEK; then the host pin follows (a crash between the two is healed by
 * vault_unlock(), which finds the keyring matching the pin's "next"). */
static int commit_keys(struct vault *v, struct vault_pin *pin, struct vault_keys *next,
		       int new_dek)
{
	struct vault_keys *k = v->keys;
	unsigned int n = next->ndeks - 1;
	char *s;
	size_t len;
	int r;

	r = keys_encode(next, &s, &len);
	if (!r) {
		r = backend_put(v->be, KEYS_OBJECT, s, len);
		free(s);
	}
	if (!r)
		crashpoint("rotate.keyring-committed");
	if (r < 0) {
		if (new_dek)
			secmem_free(next->dek[n]);
		kek_free(next->kek);
		return r;
	}
	kek_free(k->kek);
	k->kek = next->kek;
	k->gen = next->gen;
	k->mode = next->mode;
	memcpy(k->fp, next->fp, KEK_FP_LEN);
	if (new_dek) {
		k->dek[n] = next->dek[n];
		k->dek_id[n] = next->dek_id[n];
		k->sealed[n] = 0;
		k->ndeks = next->ndeks;
		k->cur_dek = next->cur_dek;
		/* Seals counted so far were under the retired current DEK. */
		__atomic_store_n(&k->session_sealed, 0, __ATOMIC_RELAXED);
	}
	snprintf(k->kek_file, sizeof(k->kek_file), "%s", pin->next.file);
	if (pin->cur.mode == KEK_MODE_VAULT)
		snprintf(pin->retired, sizeof(pin->retired), "%s", pin->cur.file);
	pin->cur = pin->next;
	pin->has_next = 0;
	return vault_pin_save(v, pin);
}

/* Host side of a finished or abandoned rotation, from the pin only: the
 * uncommitted next key file this host generated, the retired one. */
static int pin_cleanup(struct vault *v, struct vault_pin *pin)
{
	int changed = 0;

	if (pin->has_next) {
		if (pin->next_generated && strcmp(pin->next.file, pin->cur.file))
			unlink(pin->next.file);
		pin->has_next = 0;
		changed = 1;
	}
	if (pin->retired[0]) {
		if (strcmp(pin->retired, pin->cur.file) && !unlink(pin->retired))
			crashpoint("rotate.old-kek-removed");
		pin->retired[0] = 0;
		changed = 1;
	}
	return changed ? vault_pin_save(v, pin) : 0;
}

static int finish(struct vault *v, struct vault_pin *pin)
{
	int r = keep_all_gen(v, v->keys->gen);

	if (!r)
		r = backend_del(v->be, JOURNAL);
	if (!r)
		crashpoint("rotate.journal-removed");
	if (r == -ENOENT)
		r = 0;
	/* The retired vault-managed KEK must not outlive the switch. */
	if (!r)
		r = pin_cleanup(v, pin);
	return r;
}

/* Where this vault's vault-managed key files live on this host. */
static int key_dir_of(const struct vault_pin *pin, char *dir, size_t len)
{
	char *slash;

	if (pin->cur.mode != KEK_MODE_VAULT) {
		snprintf(dir, len, "%s", vault_key_dir());
		return 0;
	}
	snprintf(dir, len, "%s", pin->cur.file);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EUCLEAN;
	*slash = 0;
	return 0;
}

/* The KEK to switch to: named by the caller (then customer-managed, RSA or
 * AES), or a new vault-managed key, refused for a customer-managed vault. */
static int new_kek(struct vault *v, const char *file, struct vault_pin *pin,
		   struct vault_kek **kek)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	uint32_t gen = v->keys->gen + 1;
	int r;

	memset(&pin->next, 0, sizeof(pin->next));
	pin->next.gen = gen;
	pin->next_generated = 0;
	if (file) {
		if (!realpath(file, pin->next.file))
			return -errno;
		pin->next.mode = KEK_MODE_CUSTOMER;
		return kek_load(pin->next.file, kek);
	}
	if (pin->cur.mode == KEK_MODE_CUSTOMER)
		return -EOPNOTSUPP;
	r = key_dir_of(pin, dir, sizeof(dir));
	if (!r)
		r = kek_path(dir, v->id_hex, gen, path, sizeof(path));
	if (r < 0)
		return r;
	/* A key file of the next generation that this host's pin does not
	 * name was left by a rotation that died before its pin: nothing is
	 * wrapped by it, and it would block every later rotation. */
	unlink(path);
	r = kek_generate(dir, v->id_hex, gen, tmp, sizeof(tmp), kek);
	if (r < 0)
		return r;
	if (!realpath(tmp, pin->next.file)) {
		r = -errno;
		kek_free(*kek);
		unlink(tmp);
		return r;
	}
	pin->next.mode = KEK_MODE_VAULT;
	pin->next_generated = 1;
	return 0;
}

static int load_pin(struct vault *v, struct vault_pin *pin)
{
	int r = vault_pin_load(v, pin);

	/* vault_unlock() pinned the keyring it opened. */
	if (!r && !vault_pin_matches(&pin->cur, v->keys))
		r = -EKEYREVOKED;
	return r == -ENOENT ? -ENOKEY : r;
}

int vault_rotate(struct vault *v, const char *file, char *new_path, size_t len)
{
	struct journal j = { 0 };
	struct vault_kek *kek = NULL;
	struct vault_keys next;
	struct vault_pin pin;
	char detail[128];
	struct rewrap_arg a;
	int new_dek = 0, r;

	r = vault_rotate_recover(v);
	if (!r)
		r = load_pin(v, &pin);
	if (!r)
		r = new_kek(v, file, &pin, &kek);
	if (r < 0)
		return r;
	pin.next.type = kek->type;
	memcpy(pin.next.fp, kek->fp, KEK_FP_LEN);
	if (!memcmp(kek->fp, v->keys->fp, KEK_FP_LEN)) {
		kek_free(kek);
		return -EALREADY;
	}
	r = next_keys(v, &pin, kek, &next, &new_dek);
	pin.has_next = 1;
	if (!r)
		r = vault_pin_save(v, &pin);
	if (r < 0) {
		if (pin.next_generated)
			unlink(pin.next.file);
		if (new_dek)
			secmem_free(next.dek[next.ndeks - 1]);
		kek_free(kek);
		return r;
	}
	j.new_gen = pin.next.gen;
	a.kek = kek;
	a.gen = j.new_gen;
	r = journal_write(v, &j);
	if (!r)
		r = add_all_wraps(v, &a);
	if (r < 0) {
		if (new_dek)
			secmem_free(next.dek[next.ndeks - 1]);
		kek_free(kek);
	} else {
		r = commit_keys(v, &pin, &next, new_dek);
	}
	if (r < 0) {
		/* Before the commit: roll back.  After it (only the pin failed):
		 * the next unlock heals the pin from "next". */
		if (v->keys->gen != j.new_gen)
			vault_rotate_recover(v);
		return r;
	}
	snprintf(detail, sizeof(detail), "gen %u, %s, %s", j.new_gen,
		 kek_mode_name(v->keys->mode), new_dek ? "new DEK" : "no DEK id left");
	vault_log_event(v, "key-rotate", detail);
	snprintf(new_path, len, "%s", pin.cur.file);
	return finish(v, &pin);
}

int vault_rotate_recover(struct vault *v)
{
	struct vault_pin pin;
	struct journal j;
	uint32_t gen = v->keys->gen;
	char detail[64];
	int r, pinned;

	r = vault_pin_load(v, &pin);
	pinned = !r;
	if (r < 0 && r != -ENOENT)
		return r;
	r = journal_read(v, &j);
	if (r == -ENOENT)
		return pinned ? pin_cleanup(v, &pin) : 0;
	if (r < 0)
		return r;
	/* Vault side: whatever the journal says, only wrappings of the
	 * keyring's own generation are kept. */
	r = keep_all_gen(v, gen);
	if (!r)
		r = backend_del(v->be, JOURNAL);
	if (!r)
		crashpoint("rotate.recovered");
	if (!r && pinned)
		r = pin_cleanup(v, &pin);
	if (!r) {
		snprintf(detail, sizeof(detail), "gen %u", gen);
		vault_log_event(v, gen == j.new_gen ? "key-rotate-completed" :
				"key-rotate-rolled-back", detail);
	}
	return r;
}
