// SPDX-License-Identifier: GPL-2.0
/* Strict numbers (lib/util.c: parse_u64, parse_uint, parse_size,
 * parse_date's @SECONDS) and retention ties between points of one second
 * (vault/vault_retention.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/util.h"
#include "vault/vault_retention.h"

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 7;
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 7);		/* untouched on failure */
	static const char *bad[] = { "", "seven", "7x", " 7", "7 ", "+7", "-7", "0x10",
				     "1e3", "7.0", "\t7", "٣" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, 0, 1, &v), -EINVAL);
	assert_int_equal(parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(v, 7);
}

static void test_parse_uint(void **state)
{
	unsigned int u = 3;

	assert_int_equal(parse_uint("4294967295", 0, UINT32_MAX, &u), 0);
	assert_true(u == UINT32_MAX);
	u = 3;
	/* atoi read this as -1 (4294967295 as unsigned): now it is refused. */
	assert_int_equal(parse_uint("4294967296", 0, UINT32_MAX, &u), -ERANGE);
	assert_int_equal(parse_uint("seven", 0, 100, &u), -EINVAL);
	assert_int_equal(parse_uint("007", 0, 100, &u), 0);
	assert_int_equal(u, 7);
}

static void test_parse_size(void **state)
{
	uint64_t s = 1;

	assert_int_equal(parse_size("0", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(parse_size("512B", &s), 0);
	assert_int_equal(s, 512);
	assert_int_equal(parse_size("64k", &s), 0);
	assert_int_equal(s, 65536);
	assert_int_equal(parse_size("16M", &s), 0);
	assert_int_equal(s, 16 << 20);
	assert_int_equal(parse_size("2GiB", &s), 0);
	assert_true(s == 2ULL << 30);
	assert_int_equal(parse_size("3TB", &s), 0);
	assert_true(s == 3ULL << 40);
	assert_int_equal(parse_size("16383P", &s), 0);
	assert_true(s == 16383ULL << 50);
	s = 1;
	/* Used to wrap silently. */
	assert_int_equal(parse_size("16384P", &s), -ERANGE);
	assert_int_equal(parse_size("17179869184G", &s), -ERANGE);
	assert_int_equal(parse_size("18446744073709551616", &s), -ERANGE);
	assert_int_equal(parse_size("123456789012345678901234567890", &s), -ERANGE);
	static const char *bad[] = { "", "-1", "+1", " 1", "1 ", "K", "1X", "1KK", "1Kb",
				     "1iB", "1.5G", "0x10", "1KiBB", "1b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_size(bad[i], &s), -EINVAL);
	assert_int_equal(s, 1);
}

static void test_parse_date_seconds(void **state)
{
	int64_t t = 5;

	assert_int_equal(parse_date("@0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(parse_date("@9223372036854775807", &t), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(parse_date("@9223372036854775808", &t), -ERANGE);
	assert_int_equal(parse_date("@-1", &t), -EINVAL);
	assert_int_equal(parse_date("@ 1", &t), -EINVAL);
	assert_int_equal(parse_date("@", &t), -EINVAL);
	assert_int_equal(parse_date("@1x", &t), -EINVAL);
}

/* Points of one second: which one a rule keeps depends only on the ids,
 * never on the order they were listed in. */
static void test_retention_ties(void **state)
{
	static const char *ids[4] = {
		"20250101T120000Z-0000000a", "20250101T120000Z-ffffffff",
		"20250101T120000Z-80000000", "20250101T115959Z-ffffffff",
	};
	struct retention_policy p = { .last = 1, .daily = 1 };
	int64_t t = 1735732800;	/* 2025-01-01T12:00:00Z */
	int perm[4][4] = { { 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 1, 3, 0, 2 }, { 2, 0, 3, 1 } };

	for (int k = 0; k < 4; k++) {
		struct retention_item it[4] = { { 0 } };

		for (int i = 0; i < 4; i++) {
			int j = perm[k][i];

			it[i].id = ids[j];
			it[i].created = j == 3 ? t - 1 : t;
		}
		retention_apply(&p, it, 4, t + 3600);
		for (int i = 0; i < 4; i++) {
			int j = perm[k][i];

			/* The greatest id of the newest second is the newest. */
			assert_int_equal(it[i].keep, j == 1 ? (KEEP_LAST | KEEP_DAILY) : 0);
		}
	}
	/* keep_last 2: the next one by id, not by listing order. */
	{
		struct retention_policy q = { .last = 2 };
		struct retention_item it[3] = {
			{ .id = ids[0], .created = t }, { .id = ids[2], .created = t },
			{ .id = ids[1], .created = t },
		};

		retention_apply(&q, it, 3, t);
		assert_int_equal(it[0].keep, 0);
		assert_int_equal(it[1].keep, KEEP_LAST);
		assert_int_equal(it[2].keep, KEEP_LAST);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_date_seconds),
		cmocka_unit_test(test_retention_ties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
