// SPDX-License-Identifier: GPL-2.0
/* DEK lifetime: a new DEK at every KEK rotation and at the use budget,
 * old DEKs still open their blobs, wraps bound to role and vault, older
 * keyrings still open (issue 11, "Keys with a lifetime"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_blob.h"
#include "vault/vault_dek.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"
#include "vault/vault_pin.h"
#include "vault/vault_rotate.h"

struct tv {
	char dir[64], loc[96], kek[PATH_MAX];
};

static void tv_init(struct tv *t)
{
	struct vault_init_opts o = { 0 };
	char p[128];

	snprintf(t->dir, sizeof(t->dir), "/tmp/cs-dek-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->loc, sizeof(t->loc), "%s/vault", t->dir);
	snprintf(p, sizeof(p), "%s/state", t->dir);
	assert_int_equal(setenv("CRYPTSNAP_STATE_DIR", p, 1), 0);
	snprintf(p, sizeof(p), "%s/keys", t->dir);
	assert_int_equal(setenv("CRYPTSNAP_KEY_DIR", p, 1), 0);
	assert_int_equal(vault_init(t->loc, &o, t->kek, sizeof(t->kek)), 0);
}

static void tv_done(struct tv *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static struct vault *tv_open(struct tv *t)
{
	struct vault *v;

	assert_int_equal(vault_open(t->loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), 0);
	return v;
}

static const uint8_t blob_id_x[BLOB_ID_LEN] = { 'x' };
static const char plain[] = "sealed under some DEK";

/* Seals one blob; returns the DEK id its envelope names. */
static uint8_t seal_one(struct vault *v, uint8_t *out)
{
	struct blob_ctx c;

	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(blob_seal(&c, BLOB_DATA, blob_id_x, plain, sizeof(plain), out), 0);
	blob_ctx_free(&c);
	return out[5];
}

static void expect_opens(struct vault *v, const uint8_t *in)
{
	uint8_t out[sizeof(plain)];
	struct blob_ctx c;

	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(blob_open(&c, BLOB_DATA, blob_id_x, in,
				   sizeof(plain) + BLOB_OVERHEAD, out), 0);
	assert_memory_equal(out, plain, sizeof(plain));
	blob_ctx_free(&c);
}

static void rotate(struct vault *v)
{
	char path[PATH_MAX];

	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_rotate(v, NULL, path, sizeof(path)), 0);
	vault_lock_release(v);
}

static unsigned int maintain(struct vault *v, int force)
{
	unsigned int rolled;

	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_dek_maintain(v, force ? DEK_ROLL : 0, &rolled), 0);
	vault_lock_release(v);
	return rolled;
}

static size_t count_usage(struct vault *v)
{
	struct name_list l = { 0 };
	size_t n;

	assert_int_equal(backend_list(v->be, "usage/", &l), 0);
	n = l.n;
	name_list_free(&l);
	return n;
}

/* A KEK rotation makes a new current DEK; blobs of the old one open. */
static void test_rotation_rolls_dek(void **state)
{
	uint8_t b1[sizeof(plain) + BLOB_OVERHEAD], b2[sizeof(b1)];
	struct vault *v;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t);
	assert_int_equal(v->keys->ndeks, 1);
	assert_int_equal(seal_one(v, b1), 1);
	rotate(v);
	assert_int_equal(v->keys->cur_dek, 2);
	vault_close(v);

	v = tv_open(&t);
	assert_int_equal(v->keys->gen, 2);
	assert_int_equal(v->keys->ndeks, 2);
	assert_int_equal(v->keys->cur_dek, 2);
	assert_int_equal(seal_one(v, b2), 2);
	expect_opens(v, b1);
	expect_opens(v, b2);
	vault_close(v);
	tv_done(&t);
}

static void put_usage(struct vault *v, const char *name, unsigned int dek, uint64_t n)
{
	char body[96];
	int len = snprintf(body, sizeof(body), "{\"dek\":%u,\"blobs\":%llu}", dek,
			   (unsigned long long)n);

	assert_int_equal(backend_put(v->be, name, body, (size_t)len), 0);
}

/* Seals are counted, published at close, folded under the exclusive lock;
 * the DEK is replaced exactly when its count reaches DEK_BUDGET. */
static void test_budget_rolls_dek(void **state)
{
	uint8_t b[sizeof(plain) + BLOB_OVERHEAD], b1[sizeof(b)];
	struct vault *v;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t);
	seal_one(v, b1);
	seal_one(v, b);
	seal_one(v, b);
	vault_close(v);

	v = tv_open(&t);
	assert_int_equal(count_usage(v), 1);
	assert_int_equal(maintain(v, 0), 0);
	assert_int_equal(count_usage(v), 0);
	assert_int_equal(v->keys->sealed[0], 3);
	put_usage(v, "usage/a.json", 1, DEK_BUDGET - 4);
	assert_int_equal(maintain(v, 0), 0);		/* one below */
	vault_close(v);

	v = tv_open(&t);
	assert_int_equal(v->keys->sealed[0], DEK_BUDGET - 1);
	assert_int_equal(v->keys->cur_dek, 1);
	put_usage(v, "usage/b.json", 1, 1);
	assert_int_equal(maintain(v, 0), 2);		/* reached */
	vault_close(v);

	v = tv_open(&t);
	assert_int_equal(v->keys->cur_dek, 2);
	assert_int_equal(v->keys->ndeks, 2);
	assert_int_equal(seal_one(v, b), 2);
	expect_opens(v, b1);
	/* A record naming an unknown DEK or not parsing counts nothing. */
	put_usage(v, "usage/c.json", 9, DEK_BUDGET);
	assert_int_equal(backend_put(v->be, "usage/d.json", "{", 1), 0);
	assert_int_equal(maintain(v, 0), 0);
	assert_int_equal(count_usage(v), 0);
	vault_close(v);
	tv_done(&t);
}

/* Before a backup, with the vault idle: a roll at the budget, a fold only
 * once DEK_USAGE_FOLD records piled up; with the vault busy, nothing. */
static void test_before_backup(void **state)
{
	char name[32];
	struct vault *v, *other;
	struct tv t;
	int i;

	tv_init(&t);
	v = tv_open(&t);
	for (i = 0; i < DEK_USAGE_FOLD - 1; i++) {
		snprintf(name, sizeof(name), "usage/%03d.json", i);
		put_usage(v, name, 1, 1);
	}
	assert_int_equal(vault_dek_before_backup(v), 0);
	assert_int_equal(count_usage(v), DEK_USAGE_FOLD - 1);	/* lazy */
	put_usage(v, "usage/last.json", 1, 1);
	assert_int_equal(vault_dek_before_backup(v), 0);
	assert_int_equal(count_usage(v), 0);			/* folded */
	vault_close(v);

	v = tv_open(&t);
	assert_int_equal(v->keys->sealed[0], DEK_USAGE_FOLD);
	put_usage(v, "usage/big.json", 1, DEK_BUDGET);
	other = tv_open(&t);
	assert_int_equal(vault_lock(other, VAULT_LOCK_SHARED), 0);
	assert_int_equal(vault_dek_before_backup(v), 0);	/* busy */
	assert_int_equal(v->keys->cur_dek, 1);
	vault_close(other);
	assert_int_equal(vault_dek_before_backup(v), 0);
	assert_int_equal(v->keys->cur_dek, 2);			/* rolled */
	vault_close(v);
	v = tv_open(&t);
	assert_int_equal(v->keys->cur_dek, 2);
	vault_close(v);
	tv_done(&t);
}

/* A roll that died between its pin and keys.json, or between keys.json
 * and the pin, leaves a vault this host still opens; an old pin alone
 * (keyring with other DEKs) is refused. */
static void test_roll_crash_windows(void **state)
{
	struct vault_pin before, after, mixed;
	struct vault *v;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t);
	assert_int_equal(vault_pin_load(v, &before), 0);
	assert_int_equal(maintain(v, 1), 2);
	assert_int_equal(vault_pin_load(v, &after), 0);
	assert_memory_not_equal(before.cur.digest, after.cur.digest, KEYS_DIGEST_LEN);

	/* keys.json committed, pin not yet promoted. */
	mixed = before;
	mixed.has_next = 1;
	mixed.next = after.cur;
	assert_int_equal(vault_pin_save(v, &mixed), 0);
	vault_close(v);
	v = tv_open(&t);
	assert_int_equal(v->keys->cur_dek, 2);
	assert_int_equal(vault_pin_load(v, &mixed), 0);
	assert_false(mixed.has_next);
	assert_memory_equal(mixed.cur.digest, after.cur.digest, KEYS_DIGEST_LEN);

	/* Only the old pin: the keyring's DEKs are not the pinned ones. */
	assert_int_equal(vault_pin_save(v, &before), 0);
	vault_close(v);
	assert_int_equal(vault_open(t.loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), -EKEYREVOKED);
	vault_close(v);
	tv_done(&t);
}

static json_object *load_keys(struct tv *t)
{
	char p[128];
	json_object *o;

	snprintf(p, sizeof(p), "%s/keys.json", t->loc);
	o = json_object_from_file(p);
	assert_non_null(o);
	return o;
}

static void save_keys(struct tv *t, json_object *o)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/keys.json", t->loc);
	assert_int_equal(json_object_to_file(p, o), 0);
}

/* A DEK's wrap presented as the MAC key (or as another DEK) does not
 * unwrap: each wrap names its role and DEK id. */
static void test_role_binding(void **state)
{
	json_object *o, *deks, *d1, *d2;
	const char *w1, *w2;
	char *s1, *s2;
	struct vault *v;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t);
	assert_int_equal(maintain(v, 1), 2);
	vault_close(v);
	o = load_keys(&t);
	assert_true(json_object_object_get_ex(o, "deks", &deks));
	d1 = json_object_array_get_idx(deks, 0);
	d2 = json_object_array_get_idx(deks, 1);
	assert_int_equal(vj_str(d1, "wrapped", &w1), 0);
	assert_int_equal(vj_str(d2, "wrapped", &w2), 0);
	s1 = strdup(w1);
	s2 = strdup(w2);

	json_object_object_add(o, "mac_key", json_object_new_string(s1));
	save_keys(&t, o);
	assert_int_equal(vault_open(t.loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), -EKEYREJECTED);
	vault_close(v);
	json_object_put(o);

	o = load_keys(&t);
	assert_true(json_object_object_get_ex(o, "deks", &deks));
	json_object_object_add(json_object_array_get_idx(deks, 0), "wrapped",
			       json_object_new_string(s2));
	json_object_object_add(json_object_array_get_idx(deks, 1), "wrapped",
			       json_object_new_string(s1));
	save_keys(&t, o);
	assert_int_equal(vault_open(t.loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), -EKEYREJECTED);
	vault_close(v);
	json_object_put(o);
	free(s1);
	free(s2);
	tv_done(&t);
}

/* Wrap version 1 (keyrings of older builds: the bare key wrapped) still
 * opens; the next keyring write uses version 2. */
static void test_legacy_keyring(void **state)
{
	uint8_t w[KEK_WRAP_MAX], b[sizeof(plain) + BLOB_OVERHEAD];
	json_object *o, *deks;
	struct vault_kek *kek;
	struct vault *v;
	char hex[2 * KEK_WRAP_MAX + 1];
	size_t n;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t);
	seal_one(v, b);
	assert_int_equal(kek_load(t.kek, &kek), 0);
	o = load_keys(&t);
	json_object_object_del(o, "wrap");
	json_object_object_add(o, "kek_file", json_object_new_string("/etc/passwd"));
	assert_int_equal(kek_wrap(kek, v->keys->mac, 32, w, sizeof(w), &n), 0);
	hex_encode(w, n, hex);
	json_object_object_add(o, "mac_key", json_object_new_string(hex));
	assert_true(json_object_object_get_ex(o, "deks", &deks));
	assert_int_equal(kek_wrap(kek, v->keys->dek[0], 32, w, sizeof(w), &n), 0);
	hex_encode(w, n, hex);
	json_object_object_add(json_object_array_get_idx(deks, 0), "wrapped",
			       json_object_new_string(hex));
	save_keys(&t, o);
	json_object_put(o);
	kek_free(kek);
	vault_close(v);

	v = tv_open(&t);
	assert_true(v->keys->legacy_wraps);
	assert_string_equal(v->keys->kek_file, t.kek);	/* not /etc/passwd */
	expect_opens(v, b);
	rotate(v);
	vault_close(v);
	o = load_keys(&t);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "wrap")), 2);
	assert_false(json_object_object_get_ex(o, "kek_file", NULL));
	json_object_put(o);
	v = tv_open(&t);
	assert_false(v->keys->legacy_wraps);
	expect_opens(v, b);
	vault_close(v);
	tv_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_rolls_dek),
		cmocka_unit_test(test_budget_rolls_dek),
		cmocka_unit_test(test_before_backup),
		cmocka_unit_test(test_roll_crash_windows),
		cmocka_unit_test(test_role_binding),
		cmocka_unit_test(test_legacy_keyring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
