// SPDX-License-Identifier: GPL-2.0
/*
 * The pipelined store path (issue 18): workers seal into pack buffers,
 * packs are put asynchronously, one backend sync before the index.  A
 * wrapper around the local backend's ops logs every put and sync, checks
 * the commit order as it happens and fails the pack put it is told to:
 *  - order: every pack put has returned, then one sync, then the index,
 *    then the point; the index names only packs that were put;
 *  - a put failing after N packs (N = 0, 1, 5) fails the backup: no
 *    index, no point, only unreferenced packs; the next backup works and
 *    restores byte for byte;
 *  - restore writes zero chunks to a target that is not known to be zero;
 *  - restore reads a run of blobs stored one after another in a pack
 *    (with the record headers of pack format 2 between them) with one
 *    request, not one per chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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
#include "store/backend.h"
#include "vault/backup_feed.h"
#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_bindex.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

#define CS	65536U
#define NCHUNKS	96U		/* 6 MiB: with 256 KiB packs, ~30 packs */

static char dir[64], loc[96], img[96];

/* The wrapper's log, guarded by mu (puts run on several threads). */
static struct {
	pthread_mutex_t mu;
	const struct backend_ops *real;
	struct backend_ops ops;
	int fail_after;			/* pack puts that succeed; -1: all */
	int packs_started, packs_done, syncs;
	int packs_at_sync;		/* packs_done at the last sync */
	int index_puts, point_puts, order_bad;
	int pack_gets;			/* get_range of packs */
	struct name_list packs;		/* names put */
} w = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int is(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}

static int w_put_deferred(struct backend *b, const char *name, const void *buf, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&w.mu);
	if (is(name, "packs/") && w.fail_after >= 0 && w.packs_started >= w.fail_after)
		r = -EIO;
	w.packs_started++;
	pthread_mutex_unlock(&w.mu);
	if (!r)
		r = w.real->put_deferred(b, name, buf, len);
	pthread_mutex_lock(&w.mu);
	if (!r) {
		w.packs_done++;
		name_list_add(&w.packs, name);
	}
	pthread_mutex_unlock(&w.mu);
	return r;
}

static int w_sync(struct backend *b)
{
	pthread_mutex_lock(&w.mu);
	w.syncs++;
	w.packs_at_sync = w.packs_done;
	if (w.packs_started != w.packs_done && w.fail_after < 0)
		w.order_bad++;		/* a put still in flight */
	pthread_mutex_unlock(&w.mu);
	return w.real->sync(b);
}

static int w_put(struct backend *b, const char *name, const void *buf, size_t len)
{
	pthread_mutex_lock(&w.mu);
	if (is(name, "index/")) {
		w.index_puts++;
		/* Every pack put is done and was synced before the index. */
		if (!w.syncs || w.packs_at_sync != w.packs_done ||
		    w.packs_started != w.packs_done)
			w.order_bad++;
	}
	if (is(name, "points/")) {
		w.point_puts++;
		if (!w.index_puts)
			w.order_bad++;
	}
	pthread_mutex_unlock(&w.mu);
	return w.real->put(b, name, buf, len);
}

static int w_put_new(struct backend *b, const char *name, const void *buf, size_t len)
{
	pthread_mutex_lock(&w.mu);
	if (is(name, "points/")) {
		w.point_puts++;
		if (!w.index_puts)
			w.order_bad++;
	}
	pthread_mutex_unlock(&w.mu);
	return w.real->put_new(b, name, buf, len);
}

static int w_get_range(struct backend *b, const char *name, uint64_t off, void *buf,
		       size_t len)
{
	pthread_mutex_lock(&w.mu);
	if (is(name, "packs/"))
		w.pack_gets++;
	pthread_mutex_unlock(&w.mu);
	return w.real->get_range(b, name, off, buf, len);
}

static int w_get_range_aligned(struct backend *b, const char *name, uint64_t off,
			       void *buf, size_t len)
{
	pthread_mutex_lock(&w.mu);
	if (is(name, "packs/"))
		w.pack_gets++;
	pthread_mutex_unlock(&w.mu);
	return w.real->get_range_aligned(b, name, off, buf, len);
}

static void wrap(struct vault *v, int fail_after)
{
	if (v->be->ops != &w.ops) {
		w.real = v->be->ops;
		w.ops = *w.real;
		w.ops.put_deferred = w_put_deferred;
		w.ops.sync = w_sync;
		w.ops.put = w_put;
		w.ops.put_new = w_put_new;
		w.ops.get_range = w_get_range;
		w.ops.get_range_aligned = w_get_range_aligned;
		v->be->ops = &w.ops;
	}
	name_list_free(&w.packs);
	w.fail_after = fail_after;
	w.packs_started = w.packs_done = w.syncs = w.packs_at_sync = 0;
	w.index_puts = w.point_puts = w.order_bad = w.pack_gets = 0;
}

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[96], st[96], kek[PATH_MAX];
	uint8_t *buf = malloc(CS);
	int fd, i;

	snprintf(dir, sizeof(dir), "/tmp/cs-pipe-XXXXXX");
	if (!buf || !mkdtemp(dir))
		return -1;
	snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	snprintf(img, sizeof(img), "%s/img", dir);
	setenv("CRYPTSNAP_STATE_DIR", st, 1);
	mkdir(keys, 0700);
	o.key_dir = keys;
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	for (i = 0; fd >= 0 && i < (int)NCHUNKS; i++) {
		/* Every eighth chunk zero, the rest random. */
		if (i % 8 == 7)
			memset(buf, 0, CS);
		else
			crypto_random(buf, CS);
		if (write(fd, buf, CS) != (ssize_t)CS)
			return -1;
	}
	free(buf);
	if (fd < 0 || close(fd))
		return -1;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	name_list_free(&w.packs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int backup(struct vault *v, unsigned int threads, unsigned int puts,
		  char id[POINT_ID_MAX])
{
	struct vault_backup_opts o = { .disk = "d1", .image_size = NCHUNKS * (uint64_t)CS,
				       .threads = threads, .puts = puts };
	struct vault_backup *vb;
	int fd = open(img, O_RDONLY), r;

	assert_true(fd >= 0);
	r = vault_backup_begin(v, &o, &vb);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = feed_range(vb, fd, o.image_size, CS, 0, NCHUNKS, NULL, NULL);
	if (!r)
		r = vault_backup_finish(vb, id);
	vault_backup_free(vb);
	close(fd);
	return r;
}

static size_t count(struct vault *v, const char *prefix)
{
	struct name_list l = { 0 };
	size_t n;

	assert_int_equal(backend_list(v->be, prefix, &l), 0);
	n = l.n;
	name_list_free(&l);
	return n;
}

/* Restores point id and compares it with the image. */
static void check_restore(struct vault *v, const char *id)
{
	size_t len = NCHUNKS * (size_t)CS;
	uint8_t *got = malloc(len), *want = malloc(len);
	struct blob_ctx c;
	struct manifest m;
	struct bindex bi;
	int fd = open(img, O_RDONLY);

	assert_non_null(got);
	assert_non_null(want);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, want, len), (ssize_t)len);
	close(fd);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_point_load(v, &c, id, &m), 0);
	assert_int_equal(bindex_init(&bi), 0);
	assert_int_equal(vault_index_load(v, &bi, NULL), 0);
	assert_int_equal(vault_restore_head(v, &bi, &m, got, len), 0);
	assert_memory_equal(got, want, len);
	bindex_free(&bi);
	manifest_free(&m);
	blob_ctx_free(&c);
	free(got);
	free(want);
}

/* Back to a vault without packs, index or points. */
static void wipe_content(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/packs %s/index %s/points", loc, loc, loc);
	assert_int_equal(system(cmd), 0);
}

static struct vault *open_small_packs(void)
{
	struct vault *v;

	assert_int_equal(vault_open(loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), 0);
	v->pack_size = 4 * CS;		/* many packs from a small image */
	return v;
}

static void test_order(void **state)
{
	static const unsigned int cfg[][2] = { { 1, 1 }, { 2, 2 }, { 3, 4 } };
	char id[POINT_ID_MAX];
	struct vault *v = open_small_packs();
	size_t i;

	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		wrap(v, -1);
		/* Fresh vault content each round: every chunk is new. */
		if (i) {
			wipe_content();
		}
		assert_int_equal(backup(v, cfg[i][0], cfg[i][1], id), 0);
		assert_int_equal(w.order_bad, 0);
		assert_int_equal(w.syncs, 1);
		assert_true(w.packs_done >= 20);
		assert_int_equal(w.index_puts, 1);
		assert_int_equal(w.point_puts, 1);
		assert_int_equal(count(v, "packs/"), (size_t)w.packs_done);
		check_restore(v, id);
	}
	vault_close(v);
}

/* A put fails after n packs: the backup fails, nothing names a pack. */
static void fail_after(struct vault *v, int n, unsigned int threads, unsigned int puts)
{
	char id[POINT_ID_MAX];
	size_t packs_before = count(v, "packs/");

	wrap(v, n);
	assert_int_equal(backup(v, threads, puts, id), -EIO);
	assert_int_equal(w.index_puts, 0);
	assert_int_equal(w.point_puts, 0);
	assert_int_equal(w.syncs, 0);
	assert_int_equal(count(v, "index/"), 0);
	assert_int_equal(count(v, "points/"), 0);
	/* What was put stays, unreferenced, for GC. */
	assert_int_equal(count(v, "packs/"), packs_before + (size_t)w.packs_done);
	assert_true(w.packs_done <= n);
	/* Nothing of it is trusted: the next backup stores every chunk. */
	wrap(v, -1);
	assert_int_equal(backup(v, threads, puts, id), 0);
	assert_int_equal(w.order_bad, 0);
	check_restore(v, id);
	wipe_content();
}

static void test_put_fails(void **state)
{
	struct vault *v = open_small_packs();

	fail_after(v, 0, 1, 1);
	fail_after(v, 1, 2, 2);
	fail_after(v, 5, 2, 3);
	fail_after(v, 5, 1, 1);
	vault_close(v);
}

/*
 * Restore to a target that does not read as zeros (a block device, here a
 * file full of 0xff standing in for one): zero chunks are zeroed too.  A
 * regular file refuses BLKZEROOUT, so they are written, and counted so.
 */
static void test_restore_zeros(void **state)
{
	struct vault_restore_opts o = { .zero_blkdev = 1, .threads = 2 };
	size_t len = NCHUNKS * (size_t)CS;
	struct vault_restore_result res;
	uint8_t *got = malloc(len), *want = malloc(len);
	char id[POINT_ID_MAX], out[128];
	struct vault *v = open_small_packs();
	struct blob_ctx c;
	struct manifest m;
	struct bindex bi;
	int fd;

	assert_non_null(got);
	assert_non_null(want);
	wrap(v, -1);
	assert_int_equal(backup(v, 2, 2, id), 0);
	snprintf(out, sizeof(out), "%s/out", dir);
	memset(got, 0xff, len);
	o.fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(o.fd >= 0);
	assert_int_equal(write(o.fd, got, len), (ssize_t)len);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_point_load(v, &c, id, &m), 0);
	assert_int_equal(bindex_init(&bi), 0);
	assert_int_equal(vault_index_load(v, &bi, NULL), 0);
	assert_int_equal(vault_restore_run(v, &bi, &m, &o, &res), 0);
	assert_int_equal(res.bytes_zeroout, 0);
	assert_int_equal(res.bytes_zero_written, NCHUNKS / 8 * (uint64_t)CS);
	assert_int_equal(pread(o.fd, got, len, 0), (ssize_t)len);
	close(o.fd);
	fd = open(img, O_RDONLY);
	assert_int_equal(read(fd, want, len), (ssize_t)len);
	close(fd);
	assert_memory_equal(got, want, len);
	bindex_free(&bi);
	manifest_free(&m);
	blob_ctx_free(&c);
	free(got);
	free(want);
	vault_close(v);
}

/* Default pack size: the 84 data chunks sit in one or two packs, cut
 * into runs only by the zero chunks (one in eight) and pack ends. */
static void test_restore_runs(void **state)
{
	char id[POINT_ID_MAX];
	struct vault *v;

	assert_int_equal(vault_open(loc, &v), 0);
	assert_int_equal(vault_unlock(v, NULL), 0);
	wrap(v, -1);
	assert_int_equal(backup(v, 2, 2, id), 0);
	w.pack_gets = 0;
	check_restore(v, id);
	assert_true(w.pack_gets > 0);
	assert_true(w.pack_gets <= (int)(NCHUNKS / 8 + 2));
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_runs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
