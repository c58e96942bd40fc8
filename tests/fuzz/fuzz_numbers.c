// SPDX-License-Identifier: GPL-2.0
/*
 * The strict text parsers of lib/util.c and lib/names.c.  Besides not
 * crashing, what parse_u64 accepts must be plain decimal digits and mean
 * what strtoull says, and what hex_decode_alloc accepts must encode back
 * to the same hex.
 */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "lib/names.h"
#include "lib/util.h"

static void check_u64(const char *s)
{
	uint64_t v;
	unsigned int u;
	const char *p;

	if (parse_u64(s, 0, UINT64_MAX, &v))
		return;
	for (p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			abort();
	errno = 0;
	if (p == s || strtoull(s, NULL, 10) != v || errno)
		abort();
	if (!parse_uint(s, 0, 1000, &u) && (u != v || u > 1000))
		abort();
}

static void check_hex(const char *s)
{
	uint8_t *b;
	size_t n;
	char *back;

	if (hex_decode_alloc(s, &b, &n))
		return;
	back = malloc(2 * n + 1);
	if (!back)
		abort();
	hex_encode(b, n, back);
	if (strlen(s) != 2 * n || strcasecmp(back, s))
		abort();
	free(back);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), tbuf[64];
	uint64_t v;
	int64_t t;

	check_u64(s);
	check_hex(s);
	parse_size(s, &v);
	if (!parse_date(s, &t))
		format_time(t, tbuf, sizeof(tbuf));
	disk_name_valid(s);
	host_name_valid(s);
	free(s);
	return 0;
}
