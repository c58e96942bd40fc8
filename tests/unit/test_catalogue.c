// SPDX-License-Identifier: GPL-2.0
/* The catalogue of points: codec incl. hostile input, and on a real
 * temporary vault: publish/rewrite/delete keep it exact, concurrent writers
 * lose no entry, and a deleted point, a rolled-back manifest, a planted
 * point and a counter going backwards are each reported; a listing that
 * lags behind is not taken for a rollback. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "sys/vault_seen.h"
#include "vault/vault.h"
#include "vault/vault_catalogue.h"
#include "vault/vault_points.h"

static void test_codec(void **state)
{
	struct catalogue cat = { .counter = 7 }, back;
	struct cat_entry e[2] = { 0 };
	char *s, *t;
	size_t len, cut;
	int i;

	snprintf(e[0].id, sizeof(e[0].id), "20250101T000000Z-0000abcd");
	memset(e[0].hash, 0x11, 32);
	snprintf(e[1].id, sizeof(e[1].id), "20250101T000001Z-0000abce");
	memset(e[1].hash, 0x22, 32);
	memset(e[1].next, 0x33, 32);
	e[1].has_next = 1;
	e[1].state = CAT_PENDING;
	cat.e = e;
	cat.n = 2;
	assert_int_equal(catalogue_encode(&cat, &s, &len), 0);
	assert_int_equal(catalogue_decode(s, len, 7, &back), 0);
	assert_int_equal(back.n, 2);
	assert_memory_equal(back.e, e, sizeof(e));
	catalogue_free(&back);
	/* Presented under another counter (a replayed version renamed). */
	assert_int_equal(catalogue_decode(s, len, 8, &back), -EUCLEAN);
	for (cut = 0; cut < len; cut++)
		assert_true(catalogue_decode(s, cut, 7, &back) < 0);
	srand(11);
	for (i = 0; i < 2000; i++) {
		t = malloc(len);
		memcpy(t, s, len);
		t[rand() % len] = (char)(rand() & 0xff);
		if (!catalogue_decode(t, len, 7, &back))
			catalogue_free(&back);
		free(t);
	}
	free(s);
	e[1] = e[0];	/* a duplicate id */
	assert_int_equal(catalogue_encode(&cat, &s, &len), 0);
	assert_int_equal(catalogue_decode(s, len, 7, &back), -EUCLEAN);
	free(s);
}

/* ---- a real vault ------------------------------------------------------- */

static char dir[64], loc[96];

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[96], st[96], kek[PATH_MAX];

	snprintf(dir, sizeof(dir), "/tmp/cs-cat-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	setenv("CRYPTSNAP_STATE_DIR", st, 1);
	mkdir(keys, 0700);
	o.key_dir = keys;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct vault *open_v(void)
{
	struct vault *v;

	assert_int_equal(vault_open(loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), 0);
	return v;
}

static void save_point(struct vault *v, const char *id)
{
	struct manifest m = { 0 };
	struct blob_ctx c;

	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.disk, sizeof(m.disk), "d1");
	m.created = 1735689600;
	m.image_size = v->chunk_size;
	m.chunk_size = v->chunk_size;
	m.seg_chunks = v->seg_chunks;
	m.nsegs = 1;
	m.segs = calloc(1, SEG_ID_LEN);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_point_save(v, &c, &m), 0);
	blob_ctx_free(&c);
	free(m.segs);
}

/* The damage lines of a check, joined; "" when none. */
static void check(struct vault *v, char *out, size_t len)
{
	struct cat_check ck;
	struct blob_ctx c;
	size_t i;

	out[0] = 0;
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_catalogue_check(v, &c, &ck), 0);
	for (i = 0; i < ck.damage.n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s\n", ck.damage.names[i]);
	cat_check_free(&ck);
	blob_ctx_free(&c);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void test_vault(void **state)
{
	const char *p1 = "20250101T000000Z-00000001", *p2 = "20250101T000000Z-00000002";
	struct vault *v = open_v();
	char out[2048], a[256], b[256];
	uint64_t seen;

	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	save_point(v, p1);
	save_point(v, p2);
	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	assert_int_equal(vault_seen_get(v->id_hex, &seen), 0);
	assert_int_equal(seen, 4);	/* two steps per save */

	/* Rolled back: the manifest before a rewrite put back. */
	snprintf(a, sizeof(a), "%s/points/%s.point", loc, p1);
	snprintf(b, sizeof(b), "%s/old.point", dir);
	copy_file(a, b);
	save_point(v, p1);
	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	copy_file(b, a);
	check(v, out, sizeof(out));
	assert_non_null(strstr(out, "has a manifest that is not the one"));
	save_point(v, p1);	/* an honest rewrite heals */

	/* Deleted behind the tool's back, and deleted by the tool. */
	copy_file(a, b);
	unlink(a);
	check(v, out, sizeof(out));
	assert_non_null(strstr(out, "was deleted"));
	copy_file(b, a);
	assert_int_equal(vault_point_delete(v, p1), 0);
	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	/* Its manifest replayed after the deletion. */
	copy_file(b, a);
	check(v, out, sizeof(out));
	assert_non_null(strstr(out, "is not in the catalogue"));
	unlink(a);

	/* The host saw a newer catalogue than the vault shows. */
	assert_int_equal(vault_seen_get(v->id_hex, &seen), 0);
	assert_int_equal(vault_seen_put(v->id_hex, seen + 5), 0);
	check(v, out, sizeof(out));
	assert_non_null(strstr(out, "went back to counter"));
	vault_close(v);
}

/* A store whose listings lag: catalogue/ lists no version above lag_max. */
static const struct backend_ops *real_ops;
static struct backend_ops lag_ops;
static uint64_t lag_max;

static int lag_list(struct backend *b, const char *prefix, struct name_list *out)
{
	struct name_list all = { 0 };
	size_t i;
	int r = real_ops->list(b, prefix, &all);

	for (i = 0; !r && i < all.n; i++)
		if (strncmp(all.names[i], "catalogue/", 10) ||
		    strtoull(all.names[i] + 10, NULL, 16) <= lag_max)
			r = name_list_add(out, all.names[i]);
	name_list_free(&all);
	return r;
}

/* A lagging listing is no rollback: the versions are read by name; a
 * version this host saw that is gone by name still is one. */
static void test_lagging_listing(void **state)
{
	struct vault *v = open_v();
	char out[2048], name[256], st[256];
	uint64_t seen;

	save_point(v, "20250101T000000Z-00000001");
	save_point(v, "20250101T000000Z-00000002");
	assert_int_equal(vault_seen_get(v->id_hex, &seen), 0);
	assert_int_equal(seen, 4);
	real_ops = v->be->ops;
	lag_ops = *real_ops;
	lag_ops.list = lag_list;
	v->be->ops = &lag_ops;
	for (lag_max = 0; lag_max < 4; lag_max++) {
		check(v, out, sizeof(out));
		assert_string_equal(out, "");
	}
	/* A host that never saw the vault finds the newest by name. */
	lag_max = 2;
	snprintf(st, sizeof(st), "%s/state/vaults/%s/catalogue.json", dir, v->id_hex);
	assert_int_equal(unlink(st), 0);
	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	assert_int_equal(vault_seen_get(v->id_hex, &seen), 0);
	assert_int_equal(seen, 4);
	/* Writes go on from the newest, not from the listing's. */
	save_point(v, "20250101T000000Z-00000003");
	assert_int_equal(vault_seen_get(v->id_hex, &seen), 0);
	assert_int_equal(seen, 6);
	/* The version seen deleted: a rollback, however the listing lags. */
	snprintf(name, sizeof(name), "%s/catalogue/%016x.cat", loc, 6);
	assert_int_equal(unlink(name), 0);
	check(v, out, sizeof(out));
	assert_non_null(strstr(out, "went back to counter 2, this host saw 6"));
	v->be->ops = real_ops;
	vault_close(v);
}

/* Writers without any lock, at once: every point ends up listed. */
static void test_concurrent(void **state)
{
	char out[2048];
	struct vault *v;
	int k, i, st;

	for (k = 0; k < 3; k++) {
		if (fork() == 0) {
			v = open_v();
			for (i = 0; i < 6; i++) {
				char id[POINT_ID_MAX];

				snprintf(id, sizeof(id), "20250101T000000Z-0000%02d%02d", k, i);
				save_point(v, id);
			}
			vault_close(v);
			_exit(0);
		}
	}
	for (k = 0; k < 3; k++) {
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && !WEXITSTATUS(st));
	}
	v = open_v();
	check(v, out, sizeof(out));
	assert_string_equal(out, "");
	{
		struct name_list ids = { 0 };

		assert_int_equal(vault_point_ids(v, &ids), 0);
		assert_int_equal(ids.n, 18);
		name_list_free(&ids);
	}
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test_setup_teardown(test_vault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lagging_listing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
