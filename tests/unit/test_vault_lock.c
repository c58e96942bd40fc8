// SPDX-License-Identifier: GPL-2.0
/* Vault locks (vault/vault_lock.c): strict lock names (they come from the
 * vault), host name normalisation, shared/exclusive conflicts, the
 * blocker report, stale and foreign locks, and breaking one by name. */
#include <limits.h>
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

#include "lib/names.h"
#include "vault/vault.h"

static char dir[] = "/tmp/cs-vlock.XXXXXX";
static char loc[128];

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[128], kek[PATH_MAX];

	if (!mkdtemp(dir))
		return -1;
	snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	if (mkdir(keys, 0700))
		return -1;
	o.key_dir = keys;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void test_host_normalize(void **state)
{
	char out[HOST_NAME_NORM_MAX + 1], long_name[300];

	host_name_normalize("Build01.Example.COM.", out, sizeof(out));
	assert_string_equal(out, "build01.example.com");
	host_name_normalize("my_host/../x", out, sizeof(out));
	assert_string_equal(out, "my-host-..-x");
	host_name_normalize("...", out, sizeof(out));
	assert_string_equal(out, "unknown");
	host_name_normalize("h\xc3\xa9\n", out, sizeof(out));
	assert_string_equal(out, "h---");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	host_name_normalize(long_name, out, sizeof(out));
	assert_int_equal(strlen(out), HOST_NAME_NORM_MAX);
	assert_true(host_name_valid("build01.example.com"));
	assert_false(host_name_valid("Build01"));
	assert_false(host_name_valid("build01."));
	assert_false(host_name_valid("a_b"));
	assert_false(host_name_valid(".."));
	assert_false(host_name_valid(""));
	assert_false(host_name_valid(long_name));
}

static void test_name_parse(void **state)
{
	struct vault_lock_info li;

	assert_int_equal(vault_lock_name_parse("h1.example_4242_0123456789abcdef.exclusive", &li), 0);
	assert_string_equal(li.host, "h1.example");
	assert_int_equal(li.pid, 4242);
	assert_true(li.exclusive);
	assert_int_equal(vault_lock_name_parse("h1_1_0123456789abcdef.shared", &li), 0);
	assert_false(li.exclusive);
	static const char *bad[] = {
		"../h1_1_0123456789abcdef.shared",
		"sub/h1_1_0123456789abcdef.shared",
		"H1_1_0123456789abcdef.shared",		/* not normalised */
		"h1_1_0123456789ABCDEF.shared",
		"h1_1_0123456789abcde.shared",		/* 15 hex */
		"h1_0_0123456789abcdef.shared",		/* pid 0 */
		"h1_-1_0123456789abcdef.shared",
		"h1_+1_0123456789abcdef.shared",
		"h1_99999999999_0123456789abcdef.shared",
		"h1_1_0123456789abcdef.exclusive.x",
		"h1_1_0123456789abcdef.other",
		"h1_1_0123456789abcdef",
		"h1__0123456789abcdef.shared",
		"_1_0123456789abcdef.shared",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vault_lock_name_parse(bad[i], &li), -EINVAL);
}

static void plant(const char *name, const char *body)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/locks/%s", loc, name);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
}

static int exists(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/locks/%s", loc, name);
	return access(p, F_OK) == 0;
}

static void test_conflicts_and_blocker(void **state)
{
	struct vault *a, *b;
	struct vault_lock_info li;
	char me[HOST_NAME_NORM_MAX + 1];

	host_name_self(me, sizeof(me));
	assert_int_equal(vault_open(loc, &a), 0);
	assert_int_equal(vault_open(loc, &b), 0);
	assert_int_equal(vault_lock(a, VAULT_LOCK_SHARED), 0);
	assert_int_equal(vault_lock(b, VAULT_LOCK_SHARED), 0);
	vault_lock_release(b);
	assert_int_equal(vault_lock(b, VAULT_LOCK_EXCLUSIVE), -EBUSY);
	assert_null(b->lock);
	assert_int_equal(vault_lock_blocker(b, VAULT_LOCK_EXCLUSIVE, &li), 0);
	assert_string_equal(li.host, me);
	assert_int_equal(li.pid, getpid());
	assert_true(li.local);
	assert_false(li.stale);
	assert_false(li.exclusive);
	assert_true(li.time > 0);
	vault_lock_release(a);
	assert_int_equal(vault_lock_blocker(b, VAULT_LOCK_EXCLUSIVE, &li), -ENOENT);
	assert_int_equal(vault_lock(b, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_lock(a, VAULT_LOCK_SHARED), -EBUSY);
	vault_lock_release(b);
	vault_close(a);
	vault_close(b);
}

static void test_foreign_stale_and_break(void **state)
{
	static const char *foreign = "far.example_77_00000000000000ff.exclusive";
	struct vault_lock_info li, *all;
	char stale[128], me[HOST_NAME_NORM_MAX + 1];
	size_t n, bad;
	struct vault *v;

	host_name_self(me, sizeof(me));
	/* pid_max is at most 2^22: this pid runs nowhere here. */
	snprintf(stale, sizeof(stale), "%s_2147483600_00000000000000ee.exclusive", me);
	assert_int_equal(vault_open(loc, &v), 0);
	plant(foreign, "{\"time\":1700000000}");
	plant(stale, "{\"time\":1700000000}");
	plant("junk", "x");
	plant("Far_1_00000000000000ff.exclusive", "{}");
	assert_int_equal(vault_lock_list(v, &all, &n, &bad), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 2);
	assert_string_equal(all[0].name, foreign);
	assert_int_equal(all[0].time, 1700000000);
	assert_false(all[0].local);
	assert_true(all[1].stale);
	free(all);
	/* The foreign one blocks, junk is ignored. */
	assert_int_equal(vault_lock(v, VAULT_LOCK_SHARED), -EBUSY);
	assert_true(exists("junk"));
	assert_int_equal(vault_lock_blocker(v, VAULT_LOCK_SHARED, &li), 0);
	assert_string_equal(li.name, foreign);
	assert_int_equal(li.pid, 77);
	assert_int_equal(vault_lock_break(v, "../keys"), -EINVAL);
	assert_int_equal(vault_lock_break(v, "junk"), -EINVAL);
	assert_int_equal(vault_lock_break(v, "far.example_77_00000000000000fe.shared"), -ENOENT);
	assert_int_equal(vault_lock_break(v, foreign), 0);
	assert_false(exists(foreign));
	/* The stale one is removed on the way, the others stay. */
	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_false(exists(stale));
	assert_true(exists("junk"));
	assert_true(exists("Far_1_00000000000000ff.exclusive"));
	vault_close(v);
}

static long long body_expires(const char *name)
{
	char p[512], buf[128] = "";
	const char *e;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", loc, name);
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	e = strstr(buf, "\"expires\":");
	assert_non_null(e);
	return atoll(e + strlen("\"expires\":"));
}

/* Leases: a foreign lock holds until its expiry, then is taken over; the
 * holder renews its own. */
static void test_lease(void **state)
{
	static const char *live = "far.example_78_00000000000000aa.exclusive";
	static const char *gone = "far.example_79_00000000000000bb.exclusive";
	char body[128], name[VAULT_LOCK_NAME_MAX + 8];
	struct vault_lock_info li, *all;
	struct vault *v;
	size_t n, bad;
	long long e1, e2;

	assert_int_equal(vault_open(loc, &v), 0);
	snprintf(body, sizeof(body), "{\"time\":1700000000,\"expires\":%lld}",
		 (long long)time(NULL) + 3600);
	plant(live, body);
	assert_int_equal(vault_lock(v, VAULT_LOCK_SHARED), -EBUSY);
	assert_int_equal(vault_lock_blocker(v, VAULT_LOCK_SHARED, &li), 0);
	assert_string_equal(li.name, live);
	assert_false(li.stale);
	assert_int_equal(vault_lock_break(v, live), 0);
	plant(gone, "{\"time\":1700000000,\"expires\":1700000600}");
	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_false(exists(gone));
	vault_lock_release(v);

	setenv("CRYPTSNAP_LOCK_LEASE", "3", 1);
	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_lock_list(v, &all, &n, &bad), 0);
	assert_int_equal(n, 1);
	assert_int_equal(all[0].pid, getpid());
	snprintf(name, sizeof(name), "locks/%s", all[0].name);
	free(all);
	e1 = body_expires(name);
	assert_true(e1 >= (long long)time(NULL) + 2);
	sleep(3);
	e2 = body_expires(name);
	assert_true(e2 > e1);
	vault_lock_release(v);
	unsetenv("CRYPTSNAP_LOCK_LEASE");
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_normalize),
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_conflicts_and_blocker),
		cmocka_unit_test(test_foreign_stale_and_break),
		cmocka_unit_test(test_lease),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
