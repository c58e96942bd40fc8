// SPDX-License-Identifier: GPL-2.0
/* The store layer: size limits by object kind (bounded reads), a whole-
 * object read refused before any byte is read, new directories and
 * listing over the local backend. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/backend.h"

static char dir[64];
static struct backend *be;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/cs-store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	strcat(dir, "/v");
	return backend_open(dir, 1, &be);
}

static int teardown(void **state)
{
	char cmd[128];

	backend_close(be);
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 2), dir);
	return system(cmd);
}

static void test_limits(void **state)
{
	assert_int_equal(backend_object_limit("packs/ab/ab.pack"), 0);
	assert_int_equal(backend_object_limit("tmp/1-2"), 0);
	assert_true(backend_object_limit("index/x.idx") <= (256ULL << 20) + 4096);
	assert_true(backend_object_limit("index/x.idx") >= (128ULL << 20));
	assert_true(backend_object_limit("config.json") <= (64ULL << 10));
	assert_true(backend_object_limit("points/x.point") <= (65ULL << 20));
	assert_true(backend_object_limit("jobs/x.json") <= (64ULL << 10));
	assert_true(backend_object_limit("catalogue.cat") <= (64ULL << 20));
	assert_true(backend_object_limit("whatever") <= (1ULL << 20));
}

/* A sparse 1 GiB "index" is refused with -EFBIG even when the caller
 * allows more; a pack is never read whole. */
static void test_get_bounded(void **state)
{
	char path[128];
	void *buf = NULL;
	size_t len = 0;
	int fd;

	assert_int_equal(backend_put(be, "index/a.idx", "x", 1), 0);
	snprintf(path, sizeof(path), "%s/index/a.idx", dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1LL << 30), 0);
	close(fd);
	assert_int_equal(backend_get(be, "index/a.idx", SIZE_MAX, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(backend_put(be, "packs/ab/ab.pack", "CSPK", 4), 0);
	assert_int_equal(backend_get(be, "packs/ab/ab.pack", SIZE_MAX, &buf, &len), -EFBIG);
	assert_int_equal(backend_put(be, "points/p.point", "abc", 3), 0);
	assert_int_equal(backend_get(be, "points/p.point", 100, &buf, &len), 0);
	assert_int_equal(len, 3);
	free(buf);
	assert_int_equal(backend_get(be, "points/p.point", 2, &buf, &len), -EFBIG);
}

/* Directories made by a put are 0700, objects 0600; list finds them; the
 * mtime of an object is when it was written. */
static void test_dirs_list_mtime(void **state)
{
	struct name_list l = { 0 };
	char path[128];
	struct stat st;
	int64_t t = 0;

	assert_int_equal(backend_put(be, "packs/cd/cd01.pack", "CSPK", 4), 0);
	assert_int_equal(backend_put(be, "packs/ce/ce01.pack", "CSPK", 4), 0);
	snprintf(path, sizeof(path), "%s/packs/cd", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(backend_list(be, "packs/c", &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "packs/cd/cd01.pack");
	assert_string_equal(l.names[1], "packs/ce/ce01.pack");
	name_list_free(&l);
	assert_int_equal(be->ops->mtime(be, "packs/cd/cd01.pack", &t), 0);
	assert_true(t >= (int64_t)time(NULL) - 60 && t <= (int64_t)time(NULL) + 1);
	assert_int_equal(be->ops->mtime(be, "packs/zz.pack", &t), -ENOENT);
}

/* cleanup removes only uploads older than the cut: a running writer's
 * tmp file stays. */
static void test_cleanup_age(void **state)
{
	struct name_list l = { 0 };
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/tmp/99-young", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(be->ops->cleanup(be, (int64_t)time(NULL) - 3600), 0);
	assert_int_equal(backend_list(be, "tmp/", &l), 0);
	assert_int_equal(l.n, 1);
	name_list_free(&l);
	assert_int_equal(be->ops->cleanup(be, (int64_t)time(NULL) + 3600), 0);
	assert_int_equal(backend_list(be, "tmp/", &l), 0);
	assert_int_equal(l.n, 0);
	name_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test_setup_teardown(test_get_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirs_list_mtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_age, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
