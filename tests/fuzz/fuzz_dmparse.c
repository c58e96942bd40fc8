// SPDX-License-Identifier: GPL-2.0
/*
 * The parsers of the kernel's answers (sys/dmparse.c): the first byte
 * picks one, the rest is the answer.  0: a status line; 1: a "changes"
 * page and the extents it lists; 2: a dm-crypt table line to rewrite.
 */
#include "fuzz.h"
#include "lib/secmem.h"
#include "sys/dmparse.h"

#define NCHUNKS 100000

static int count(uint64_t start, uint64_t len, void *arg)
{
	uint64_t *n = arg;

	if (!len || start + len > NCHUNKS)
		abort();	/* the walker promised non-empty, in-device extents */
	*n += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct origin_status st;
	uint64_t next, last = 0, n = 0;
	const char *list;
	char *s, *out;

	if (!size)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		cs_parse_status(s, &st);
		break;
	case 1:
		if (!cs_parse_changes_page(s, 0, NCHUNKS, &next, &list)) {
			if (next > NCHUNKS)
				abort();
			cs_walk_extents(list, NCHUNKS, &last, count, &n);
		}
		break;
	case 2:
		if (!crypt_params_rewrite(s, "00112233", 8, 1, &out))
			secmem_free(out);
		if (!crypt_params_rewrite(s, NULL, 8, 1, &out))
			secmem_free(out);
		break;
	}
	free(s);
	return 0;
}
