// SPDX-License-Identifier: GPL-2.0
/* point_reader (the block source of `cryptsnap mount`): any byte range of
 * a point reads back as the image was, through a cache smaller than the
 * image (so slots are evicted and refetched); zero chunks are never
 * fetched; a chunk whose stored bytes were changed fails its reads with
 * -EBADMSG and names itself, while every other chunk still reads right.
 * Several threads reading one point_reader at once (as the NBD daemon's
 * serving threads do) each get exactly their bytes.
 *
 * With CS_TEST_VAULT=s3://BUCKET/PREFIX (tests/s3/s3.sh, against the Swift
 * fixture) the same reads run on an S3 vault; the steps that damage pack
 * files in place are local-only. */
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
#include "vault/backup_feed.h"
#include "vault/point_reader.h"
#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"

#define CS		65536U
#define NCHUNKS		12
#define ZERO_CHUNK	2
#define BAD_CHUNK	7

static char dir[64], loc[160], img[96];
static int remote;		/* the vault is CS_TEST_VAULT, not a directory */
static uint8_t image[NCHUNKS * CS];

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[96], st[96], kek[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/cs-reader-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	remote = getenv("CS_TEST_VAULT") != NULL;
	if (remote)		/* a prefix of its own per test */
		snprintf(loc, sizeof(loc), "%s/%s", getenv("CS_TEST_VAULT"), dir + 5);
	else
		snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	snprintf(img, sizeof(img), "%s/img", dir);
	setenv("CRYPTSNAP_STATE_DIR", st, 1);
	mkdir(keys, 0700);
	o.key_dir = keys;
	crypto_random(image, sizeof(image));
	memset(image + ZERO_CHUNK * CS, 0, CS);
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || write(fd, image, sizeof(image)) != (ssize_t)sizeof(image) || close(fd))
		return -1;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void backup(struct vault *v, char id[POINT_ID_MAX])
{
	struct vault_backup_opts o = { .disk = "d1", .image_size = sizeof(image), .threads = 1 };
	struct vault_backup *vb;
	int fd = open(img, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(vault_backup_begin(v, &o, &vb), 0);
	assert_int_equal(feed_range(vb, fd, o.image_size, CS, 0, NCHUNKS, NULL, NULL), 0);
	assert_int_equal(vault_backup_finish(vb, id), 0);
	vault_backup_free(vb);
	close(fd);
}

/* The vault unlocked, one point of the image backed up, its manifest and
 * the vault's index loaded: what a point_reader reads from. */
static void open_point(struct vault **v, struct blob_ctx *c, struct manifest *m,
		       struct bindex *bi)
{
	char id[POINT_ID_MAX];

	assert_int_equal(vault_open(loc, v), 0);
	assert_int_equal(vault_unlock(*v, NULL), 0);
	backup(*v, id);
	assert_int_equal(blob_ctx_init(c, *v), 0);
	assert_int_equal(vault_point_load(*v, c, id, m), 0);
	assert_int_equal(bindex_init(bi), 0);
	assert_int_equal(vault_index_load(*v, bi, NULL), 0);
}

static void close_point(struct vault *v, struct blob_ctx *c, struct manifest *m,
			struct bindex *bi)
{
	bindex_free(bi);
	manifest_free(m);
	blob_ctx_free(c);
	vault_close(v);
}

/* Reads [off, off + len) and compares it with the image. */
static void read_check(struct point_reader *pr, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	uint64_t bad = UINT64_MAX;

	assert_non_null(buf);
	assert_int_equal(point_reader_read(pr, off, buf, len, &bad), 0);
	assert_memory_equal(buf, image + off, len);
	free(buf);
}

/* The pack file holding chunk ch's blob, and where in it. */
static void chunk_where(struct vault *v, struct bindex *bi, struct manifest *m, uint64_t ch,
			char path[272], struct bloc *l)
{
	seg_id_t *ids = malloc((size_t)m->seg_chunks * SEG_ID_LEN);
	struct blob_ctx c;
	char name[80];

	assert_non_null(ids);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_seg_load(v, bi, &c, m, 0, ids), 0);
	assert_int_equal(bindex_get(bi, ids[ch], l), 1);
	bindex_pack_name(bi->packs[l->pack], name, sizeof(name));
	snprintf(path, 272, "%s/%s", loc, name);
	blob_ctx_free(&c);
	free(ids);
}

/* Changes one byte of the stored blob of chunk ch in its pack. */
static void corrupt_chunk(struct vault *v, struct bindex *bi, struct manifest *m, uint64_t ch)
{
	char path[272];
	struct bloc l;
	uint8_t b;
	int fd;

	chunk_where(v, bi, m, ch, path, &l);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, l.off + l.len / 2), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, l.off + l.len / 2), 1);
	close(fd);
}

static void test_reader(void **state)
{
	struct point_reader_stats st;
	struct point_reader *pr;
	struct blob_ctx c;
	struct manifest m;
	struct bindex bi;
	struct vault *v;
	uint8_t buf[CS];
	uint64_t bad = 0;
	int i;

	open_point(&v, &c, &m, &bi);

	/* A cache of 4 chunks for 7: slots are evicted and refetched. */
	assert_int_equal(point_reader_open(v, &bi, &m, 4 * CS, &pr), 0);
	read_check(pr, 0, sizeof(image));
	read_check(pr, CS - 512, 1024);			/* across a boundary */
	read_check(pr, 3 * CS + 4096, 2 * CS + 512);	/* three chunks */
	read_check(pr, ZERO_CHUNK * CS + 100, 4000);	/* the zero chunk */
	for (i = 0; i < 50; i++) {
		uint64_t off = (uint64_t)random() % sizeof(image);
		size_t len = 1 + (size_t)random() % (sizeof(image) - off);

		read_check(pr, off, len < 3 * CS ? len : 3 * CS);
	}
	point_reader_stats(pr, &st);
	assert_true(st.fetched >= NCHUNKS - 1);
	assert_true(st.zero > 0);
	assert_true(st.hits > 0);
	/* Past the end: refused, nothing read. */
	assert_int_equal(point_reader_read(pr, sizeof(image) - 10, buf, 20, &bad), -EINVAL);
	point_reader_close(pr);
	if (remote)
		goto out;

	/* A damaged chunk: its reads fail and name it, the others read right. */
	corrupt_chunk(v, &bi, &m, BAD_CHUNK);
	assert_int_equal(point_reader_open(v, &bi, &m, 4 * CS, &pr), 0);
	read_check(pr, 0, BAD_CHUNK * CS);
	assert_int_equal(point_reader_read(pr, BAD_CHUNK * CS + 10, buf, 100, &bad), -EBADMSG);
	assert_int_equal(bad, BAD_CHUNK);
	assert_int_equal(point_reader_read(pr, (BAD_CHUNK - 1) * CS, buf, CS, &bad), 0);
	bad = 0;
	assert_int_equal(point_reader_read(pr, (BAD_CHUNK - 1) * CS + 10, buf, CS, &bad),
			 -EBADMSG);
	assert_int_equal(bad, BAD_CHUNK);
	read_check(pr, (BAD_CHUNK + 1) * CS, (NCHUNKS - BAD_CHUNK - 1) * CS);
	point_reader_close(pr);
out:
	close_point(v, &c, &m, &bi);
}

/* Reads chunk ch whole: 0 and the image's bytes, or the error naming ch. */
static int read_chunk(struct point_reader *pr, uint64_t ch)
{
	uint8_t *buf = malloc(CS);
	uint64_t bad = UINT64_MAX;
	int r;

	assert_non_null(buf);
	r = point_reader_read(pr, ch * CS, buf, CS, &bad);
	if (!r)
		assert_memory_equal(buf, image + ch * CS, CS);
	else
		assert_int_equal(bad, ch);
	free(buf);
	return r;
}

static void expect_stats(struct point_reader *pr, uint64_t reads, uint64_t fetched)
{
	struct point_reader_stats st;

	point_reader_stats(pr, &st);
	assert_int_equal(st.reads, reads);
	assert_int_equal(st.fetched, fetched);
}

/*
 * Read-ahead (a cache of 16 chunks: runs of up to 4): a miss alone fetches
 * its chunk alone; a miss where the last fetch ended doubles the window
 * (1, 2, 4), stopping at a zero chunk and the image's end.  A damaged
 * chunk in a run is not cached and fails alone; a run whose request fails
 * (a truncated pack) falls back to the one chunk asked for.
 */
static void test_readahead(void **state)
{
	struct point_reader *pr;
	char path[272];
	struct blob_ctx c;
	struct manifest m;
	struct bindex bi;
	struct vault *v;
	struct bloc l;
	int i;

	open_point(&v, &c, &m, &bi);

	assert_int_equal(point_reader_open(v, &bi, &m, 16 * CS, &pr), 0);
	assert_int_equal(read_chunk(pr, 3), 0);
	expect_stats(pr, 1, 1);			/* alone */
	assert_int_equal(read_chunk(pr, 4), 0);
	expect_stats(pr, 2, 3);			/* sequential: 4, 5 */
	assert_int_equal(read_chunk(pr, 5), 0);
	expect_stats(pr, 2, 3);			/* read ahead: a hit */
	assert_int_equal(read_chunk(pr, 6), 0);
	expect_stats(pr, 3, 7);			/* 6 .. 9 */
	for (i = 7; i < 10; i++)
		assert_int_equal(read_chunk(pr, i), 0);
	expect_stats(pr, 3, 7);
	assert_int_equal(read_chunk(pr, 0), 0);
	expect_stats(pr, 4, 8);			/* not sequential: alone */
	assert_int_equal(read_chunk(pr, 1), 0);
	expect_stats(pr, 5, 9);			/* 1, then the zero chunk */
	read_check(pr, 0, sizeof(image));
	expect_stats(pr, 7, 11);		/* 10 alone, 11 */
	point_reader_close(pr);
	if (remote)
		goto out;

	/* The damaged chunk in the middle of a run. */
	corrupt_chunk(v, &bi, &m, BAD_CHUNK);
	assert_int_equal(point_reader_open(v, &bi, &m, 16 * CS, &pr), 0);
	assert_int_equal(read_chunk(pr, 3), 0);
	assert_int_equal(read_chunk(pr, 4), 0);
	assert_int_equal(read_chunk(pr, 6), 0);
	expect_stats(pr, 3, 6);			/* 6, 8, 9 of the run 6 .. 9 */
	assert_int_equal(read_chunk(pr, BAD_CHUNK), -EBADMSG);
	expect_stats(pr, 4, 6);			/* fetched again, alone */
	for (i = BAD_CHUNK + 1; i < 10; i++)
		assert_int_equal(read_chunk(pr, i), 0);
	expect_stats(pr, 4, 6);
	point_reader_close(pr);

	/* The pack cut in the middle of the last chunk's blob (the index
	 * segment stored behind it is read, and cached, before the cut). */
	assert_int_equal(point_reader_open(v, &bi, &m, 16 * CS, &pr), 0);
	assert_int_equal(read_chunk(pr, 0), 0);
	chunk_where(v, &bi, &m, NCHUNKS - 1, path, &l);
	assert_int_equal(truncate(path, l.off + l.len / 2), 0);
	assert_int_equal(read_chunk(pr, NCHUNKS - 3), 0);
	expect_stats(pr, 2, 2);
	assert_int_equal(read_chunk(pr, NCHUNKS - 2), 0);
	expect_stats(pr, 4, 3);			/* the run failed, the chunk alone read */
	assert_int_equal(read_chunk(pr, NCHUNKS - 1), -EBADMSG);
	assert_int_equal(read_chunk(pr, 1), 0);
	point_reader_close(pr);
out:
	close_point(v, &c, &m, &bi);
}

#define READERS		4
#define READS		300

struct reader_arg {
	struct point_reader *pr;
	unsigned int seed;
	int wrong;		/* reads that returned wrong bytes or a wrong error */
	int failed;		/* reads of the bad chunk that failed as they should */
};

/* Random ranges of up to 3 chunks; those touching BAD_CHUNK must fail
 * with -EBADMSG naming it (when bad is set), all others read the image. */
static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	uint8_t *buf = malloc(3 * CS);
	int i;

	for (i = 0; buf && i < READS; i++) {
		uint64_t off = (uint64_t)rand_r(&a->seed) % sizeof(image), bad = UINT64_MAX;
		size_t len = 1 + (size_t)rand_r(&a->seed) % (3 * CS);
		int touches, r;

		if (len > sizeof(image) - off)
			len = sizeof(image) - off;
		touches = off / CS <= BAD_CHUNK && (off + len - 1) / CS >= BAD_CHUNK;
		r = point_reader_read(a->pr, off, buf, len, &bad);
		if (a->failed >= 0 && touches) {
			if (r != -EBADMSG || bad != BAD_CHUNK)
				a->wrong++;
			else
				a->failed++;
		} else if (r || memcmp(buf, image + off, len)) {
			a->wrong++;
		}
	}
	if (!buf)
		a->wrong++;
	free(buf);
	return NULL;
}

/* READERS threads at once over a cache of slots chunks (3: no read-ahead,
 * 16: read-ahead runs); damaged: a chunk is bad. */
static void run_readers(struct vault *v, struct bindex *bi, struct manifest *m, int damaged,
			size_t slots)
{
	struct reader_arg a[READERS];
	pthread_t t[READERS];
	struct point_reader *pr;
	int i, failed = 0;

	assert_int_equal(point_reader_open(v, bi, m, slots * CS, &pr), 0);
	for (i = 0; i < READERS; i++) {
		a[i] = (struct reader_arg){ .pr = pr, .seed = 7U * (unsigned int)i + 1,
					    .failed = damaged ? 0 : -1 };
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &a[i]), 0);
	}
	for (i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].wrong, 0);
		failed += a[i].failed;
	}
	if (damaged)
		assert_true(failed > 0);
	point_reader_close(pr);
}

static void test_concurrent(void **state)
{
	struct blob_ctx c;
	struct manifest m;
	struct bindex bi;
	struct vault *v;

	open_point(&v, &c, &m, &bi);

	run_readers(v, &bi, &m, 0, 3);
	run_readers(v, &bi, &m, 0, 16);
	if (!remote) {
		corrupt_chunk(v, &bi, &m, BAD_CHUNK);
		run_readers(v, &bi, &m, 1, 3);
		run_readers(v, &bi, &m, 1, 16);
	}

	close_point(v, &c, &m, &bi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
