// SPDX-License-Identifier: GPL-2.0
/* Parsers of device-mapper answers: status, change-set pages, crypt tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/secmem.h"
#include "sys/dmparse.h"

static const char *good_status =
	"128 4096 17 0b1e2f3a-1111-4222-8333-944455556666 3 2 active 40 1024 9 pending 312";

static void test_status_good(void **state)
{
	struct origin_status st;

	assert_int_equal(cs_parse_status(good_status, &st), 0);
	assert_int_equal(st.chunk_sectors, 128);
	assert_int_equal(st.chunks, 4096);
	assert_int_equal(st.changed, 17);
	assert_string_equal(st.uuid, "0b1e2f3a-1111-4222-8333-944455556666");
	assert_int_equal(st.counter, 3);
	assert_int_equal(st.base, 2);
	assert_string_equal(st.snap_state, "active");
	assert_int_equal(st.cow_used, 40);
	assert_int_equal(st.cow_total, 1024);
	assert_int_equal(st.frozen, 9);
	assert_string_equal(st.set_state, "pending");
	assert_int_equal(st.needed, 312);
	assert_int_equal(cs_parse_status(
		"8 1 0 u 0 0 invalid:cow_full 0 0 0 none 0", &st), 0);
	assert_string_equal(st.snap_state, "invalid:cow_full");
}

static void test_status_bad(void **state)
{
	static const char *bad[] = {
		"", "128", "128 4096 17 uuid 3 2 active 40 1024 9 pending",	/* short */
		"128 4096 17 uuid 3 2 active 40 1024 9 pending 5 extra",	/* long */
		"x 4096 17 uuid 3 2 active 40 1024 9 pending 5",
		"0 4096 17 uuid 3 2 active 40 1024 9 pending 5",		/* no chunk size */
		"128 4096 5000 uuid 3 2 active 40 1024 9 pending 5",	/* changed > chunks */
		"128 4096 1 uuid 3 2 active 2000 1024 9 pending 5",	/* used > total */
		"128 4096 1 uuid 2 3 active 0 1024 9 pending 5",	/* base > counter */
		"-128 4096 1 uuid 3 2 active 0 1024 9 pending 5",
		"128 4096 1 uuid 3 2 active 0 1024 9 pending x",	/* needed */
		/* Numbers that overflow 64 bits used to saturate silently. */
		"128 4096 1 uuid 18446744073709551616 2 active 0 1024 9 pending 5",
		"128 4096 1 uuid 3 2 active 0 1024 9 pending 99999999999999999999999",
		"128 +4096 1 uuid 3 2 active 0 1024 9 pending 5",
	};
	struct origin_status st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cs_parse_status(bad[i], &st), -EPROTO);
}

struct ext_log {
	uint64_t start[16], len[16];
	unsigned int n;
};

static int log_ext(uint64_t s, uint64_t l, void *arg)
{
	struct ext_log *e = arg;

	if (e->n == 16)
		return -E2BIG;
	e->start[e->n] = s;
	e->len[e->n++] = l;
	return 0;
}

static void test_changes_pages(void **state)
{
	struct ext_log e = { .n = 0 };
	uint64_t next, last = 0;
	const char *list;

	/* A first page that ends inside an extent, then its continuation. */
	assert_int_equal(cs_parse_changes_page("10 2 0:3,7:3", 0, 100, &next, &list), 0);
	assert_int_equal(next, 10);
	assert_int_equal(cs_walk_extents(list, 100, &last, log_ext, &e), 0);
	assert_int_equal(cs_parse_changes_page("100 2 10:2,99:1", 10, 100, &next, &list), 0);
	assert_int_equal(cs_walk_extents(list, 100, &last, log_ext, &e), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.start[2], 10);
	assert_int_equal(e.len[3], 1);
	assert_int_equal(next, 100);
	/* Empty page. */
	assert_int_equal(cs_parse_changes_page("100 0 -", 0, 100, &next, &list), 0);
	assert_int_equal(cs_walk_extents(list, 100, &last, log_ext, &e), 0);
	assert_int_equal(e.n, 4);
}

static void test_changes_hostile(void **state)
{
	static const char *lists[] = {
		"5:0",		/* empty extent */
		"90:20",	/* past the device */
		"3:2,1:1",	/* not ascending */
		"3:2,4:1",	/* overlapping */
		"3:2;5:1", "3", "a:b", "3:2,", ":", "18446744073709551615:2",
		"18446744073709551617:1",	/* wraps to 1 with sscanf */
		"1:18446744073709551616", "+1:1", "1:-1",
	};
	static const char *pages[] = {
		"", "5", "0 1 1:1",	/* no progress */
		"200 1 1:1",		/* past the end */
		"18446744073709551626 1 1:1",	/* wraps to 10 with sscanf */
	};
	const char *list;
	uint64_t next, last;
	struct ext_log e;
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		last = 0;
		e.n = 0;
		assert_int_equal(cs_walk_extents(lists[i], 100, &last, log_ext, &e), -EPROTO);
	}
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		assert_int_equal(cs_parse_changes_page(pages[i], 0, 100, &next, &list), -EPROTO);
}

static void test_crypt_rewrite(void **state)
{
	char *out;

	assert_int_equal(crypt_params_rewrite(
		"aes-xts-plain64 :64:logon:cryptsetup:1234-d0 0 254:16 32768 1 allow_discards",
		"00112233", 253, 4, &out), 0);
	assert_string_equal(out, "aes-xts-plain64 00112233 0 253:4 32768 1 allow_discards");
	secmem_free(out);
	/* Keep the key, swap only the device; no optional arguments. */
	assert_int_equal(crypt_params_rewrite("aes-cbc-essiv:sha256 abcdef 0 8:0 4096",
					      NULL, 8, 16, &out), 0);
	assert_string_equal(out, "aes-cbc-essiv:sha256 abcdef 0 8:16 4096");
	secmem_free(out);
	assert_int_equal(crypt_params_rewrite("aes-xts-plain64 key 0", NULL, 1, 1, &out), -EPROTO);
	assert_int_equal(crypt_params_rewrite("", NULL, 1, 1, &out), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_good),
		cmocka_unit_test(test_status_bad),
		cmocka_unit_test(test_changes_pages),
		cmocka_unit_test(test_changes_hostile),
		cmocka_unit_test(test_crypt_rewrite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
