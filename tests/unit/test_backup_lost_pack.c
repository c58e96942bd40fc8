// SPDX-License-Identifier: GPL-2.0
/* After a pack is lost, backups do not trust the index entries pointing
 * into it: a full backup stores those chunks again (instead of
 * deduplicating them away), and an incremental backup refuses a base point
 * that needs them (-ESTALE) instead of publishing a point that cannot be
 * restored. */
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

#include "lib/crypto.h"
#include "vault/backup_feed.h"
#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_gc.h"

#define NCHUNKS	4

static char dir[64], loc[96], img[96];

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[96], st[96], kek[PATH_MAX];
	uint8_t buf[65536];
	int fd, i;

	snprintf(dir, sizeof(dir), "/tmp/cs-lost-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	snprintf(img, sizeof(img), "%s/img", dir);
	setenv("CRYPTSNAP_STATE_DIR", st, 1);
	mkdir(keys, 0700);
	o.key_dir = keys;
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	for (i = 0; fd >= 0 && i < NCHUNKS; i++) {
		crypto_random(buf, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return -1;
	}
	if (fd < 0 || close(fd))
		return -1;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* Backs up chunks [first, first + count) of the image; the rest from base. */
static int backup(struct vault *v, const char *base, uint64_t first, uint64_t count,
		  char id[POINT_ID_MAX], struct vault_backup_stats *st)
{
	struct vault_backup_opts o = { .disk = "d1", .image_size = NCHUNKS * 65536ULL,
				       .base_point = base, .threads = 1 };
	struct vault_backup *vb;
	int fd = open(img, O_RDONLY), r;

	assert_true(fd >= 0);
	r = vault_backup_begin(v, &o, &vb);	/* frees what it made on failure */
	if (r < 0) {
		close(fd);
		return r;
	}
	r = feed_range(vb, fd, o.image_size, 65536, first, count, NULL, NULL);
	if (!r)
		r = vault_backup_finish(vb, id);
	vault_backup_stats(vb, st);
	vault_backup_free(vb);
	close(fd);
	return r;
}

static void gc(struct vault *v)
{
	struct gc_stats st;

	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_gc(v, &st), 0);
	vault_lock_release(v);
}

/*
 * Rounds, because index objects have random names: which of two index
 * objects listing one blob (the copy in the lost pack, the copy stored
 * again) is read first differs between rounds, and the copy that exists
 * must win in every order, for backup, restore and GC.
 */
static void test_lost_pack(void **state)
{
	char p1[POINT_ID_MAX], p2[POINT_ID_MAX], p3[POINT_ID_MAX], cmd[256];
	struct vault_backup_stats st;
	struct vault *v;
	int round;

	assert_int_equal(vault_open(loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), 0);
	assert_int_equal(backup(v, NULL, 0, NCHUNKS, p1, &st), 0);
	assert_int_equal(st.chunks_new, NCHUNKS);
	assert_int_equal(backup(v, NULL, 0, NCHUNKS, p2, &st), 0);
	assert_int_equal(st.chunks_new, 0);	/* dedup while the pack is there */
	/* Back to back, still a later second: retention orders by it. */
	assert_true(strncmp(p2, p1, POINT_ID_SECOND_LEN) > 0);
	for (round = 0; round < 8; round++) {
		/* Every pack goes. */
		snprintf(cmd, sizeof(cmd), "rm -f %s/packs/*/*.pack", loc);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(backup(v, p2, 0, 1, p3, &st), -ESTALE);
		assert_int_equal(backup(v, NULL, 0, NCHUNKS, p3, &st), 0);
		assert_int_equal(st.chunks_new, NCHUNKS);	/* stored again */
		/* The base is whole again (its chunks are back). */
		assert_int_equal(backup(v, p2, 0, 1, p3, &st), 0);
		/* GC keeps the copies that exist: nothing to store again. */
		gc(v);
		assert_int_equal(backup(v, NULL, 0, NCHUNKS, p3, &st), 0);
		assert_int_equal(st.chunks_new, 0);
	}
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_pack, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
