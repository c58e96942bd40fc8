// SPDX-License-Identifier: GPL-2.0
/*
 * The module's table and message argument parsers (kmod/args.c), built
 * here as userspace code like in tests/fuzz/fuzz_kargs.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../kmod/args.h"

static void test_numbers_strict(void **state)
{
	const char *bad[] = { "", "+5", "-5", " 5", "5 ", "5\n", "0x10", "18446744073709551616" };
	size_t i;
	u64 v;

	/* kstrtoull(), used before, took a '+' and a trailing newline. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cs_arg_u64(bad[i], 0, ~0ULL, &v), -EINVAL);
	assert_int_equal(cs_arg_u64("18446744073709551615", 0, ~0ULL, &v), 0);
	assert_true(v == ~0ULL);
	assert_int_equal(cs_arg_u64("7", 8, 9, &v), -EINVAL);
}

static void test_devt(void **state)
{
	u32 ma, mi;

	assert_int_equal(cs_arg_devt("254:3", &ma, &mi), 0);
	assert_int_equal(ma, 254);
	assert_int_equal(mi, 3);
	assert_int_equal(cs_arg_devt("4095:1048575", &ma, &mi), 0);
	assert_int_equal(cs_arg_devt("4096:0", &ma, &mi), -EINVAL);
	assert_int_equal(cs_arg_devt("8:1048576", &ma, &mi), -EINVAL);
	assert_int_equal(cs_arg_devt("99999999999999999999999:1", &ma, &mi), -EINVAL);
	assert_int_equal(cs_arg_devt("/dev/vdb", &ma, &mi), -ENOENT);
	assert_int_equal(cs_arg_devt("8:", &ma, &mi), -ENOENT);
	assert_int_equal(cs_arg_devt(":8", &ma, &mi), -ENOENT);
	assert_int_equal(cs_arg_devt("+8:1", &ma, &mi), -ENOENT);
}

static void test_table(void **state)
{
	char *f0[] = { "0" }, *f1[] = { "1", "x" }, *f3[] = { "3", "a" }, *fx[] = { "x" },
	     *ft[] = { "0", "y" };
	char *err = NULL;
	u32 c;

	assert_int_equal(cs_arg_chunk("128", 1 << 21, 1ULL << 32, &c, &err), 0);
	assert_int_equal(c, 128);
	assert_int_equal(cs_arg_chunk("12abc", 1 << 21, 1ULL << 32, &c, &err), -EINVAL);
	assert_string_equal(err, "Invalid chunk size");
	assert_int_equal(cs_arg_chunk("100", 1 << 21, 1ULL << 32, &c, &err), -EINVAL);
	assert_string_equal(err, "Chunk size must be a non-zero power of two");
	assert_int_equal(cs_arg_chunk("32768", 1 << 21, 1ULL << 32, &c, &err), -EINVAL);
	assert_string_equal(err, "Chunk size out of range (8..16384 sectors)");
	assert_int_equal(cs_arg_chunk("256", 128, 1ULL << 32, &c, &err), -EINVAL);
	assert_string_equal(err, "Chunk size larger than the backing device");
	assert_int_equal(cs_arg_chunk("8", 1ULL << 40, 1ULL << 32, &c, &err), -EINVAL);
	assert_string_equal(err, "Too many chunks: use a larger chunk size");
	assert_int_equal(cs_arg_features(0, NULL, &err), 0);
	assert_int_equal(cs_arg_features(1, f0, &err), 0);
	assert_int_equal(cs_arg_features(2, f1, &err), -EINVAL);
	assert_string_equal(err, "Unknown feature argument");
	assert_int_equal(cs_arg_features(2, f3, &err), -EINVAL);
	assert_string_equal(err, "Invalid number of feature arguments");
	assert_int_equal(cs_arg_features(1, fx, &err), -EINVAL);
	assert_string_equal(err, "Invalid number of feature arguments");
	assert_int_equal(cs_arg_features(2, ft, &err), -EINVAL);
	assert_string_equal(err, "Unexpected trailing arguments");
}

static int msg(struct cs_msg *m, const char *a0, const char *a1, const char *a2)
{
	char *argv[3] = { (char *)a0, (char *)a1, (char *)a2 };
	struct cs_arg_limits lim = { .dev_sectors = 1 << 21, .nr_chunks = 1 << 14 };
	unsigned int argc = a2 ? 3 : a1 ? 2 : 1;

	return cs_arg_message(argc, argv, &lim, m);
}

static void test_messages(void **state)
{
	struct cs_msg m;

	assert_int_equal(msg(&m, "changes", "0", NULL), 0);
	assert_int_equal(m.verb, CS_MSG_CHANGES);
	assert_true(m.b == CRYPTSNAP_MSG_MAX_EXTENTS);
	assert_int_equal(msg(&m, "CHANGES", "16384", "1"), 0);
	assert_int_equal(msg(&m, "changes", "16385", NULL), -EINVAL);
	assert_int_equal(msg(&m, "changes", "0", "0"), -EINVAL);
	assert_int_equal(msg(&m, "release", "0", "2097152"), 0);
	assert_int_equal(msg(&m, "release", "0", NULL), -EINVAL);
	assert_int_equal(msg(&m, "release", "0", "2097153"), -EINVAL);
	assert_int_equal(msg(&m, "cow_timeout", "0", NULL), -EINVAL);
	assert_int_equal(msg(&m, "cow_timeout", "3600", NULL), 0);
	assert_int_equal(msg(&m, "mem_limit", "0", NULL), 0);
	assert_int_equal(msg(&m, "mem_limit", "4095", NULL), -EINVAL);
	assert_int_equal(msg(&m, "snap_take", "254:3", NULL), 0);
	assert_true(m.a == 0);
	assert_string_equal(m.dev, "254:3");
	assert_int_equal(msg(&m, "snap_take", "254:3", "100"), -EINVAL);
	assert_int_equal(msg(&m, "snap_take", "254:3", "256"), 0);
	assert_true(m.a == 256);
	assert_int_equal(msg(&m, "commit", NULL, NULL), 0);
	assert_int_equal(msg(&m, "commit", "now", NULL), -EINVAL);
	assert_int_equal(msg(&m, "frobnicate", NULL, NULL), -EINVAL);
	assert_int_equal(cs_arg_message(0, NULL, NULL, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_strict),
		cmocka_unit_test(test_devt),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
