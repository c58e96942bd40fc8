// SPDX-License-Identifier: GPL-2.0
/* The location index payload (vault_bindex.c): every record it accepts
 * is found again by id. */
#include "fuzz.h"
#include "vault/vault_bindex.h"

#define MAX_BLOB (65536 + 36)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct bindex b;
	struct bloc loc;
	size_t i;

	if (!buf || bindex_init(&b))
		abort();
	memcpy(buf, data, size);
	if (!bindex_decode(&b, buf, size, MAX_BLOB)) {
		for (i = 0; i < b.cap; i++) {
			if (!b.tab[i].used)
				continue;
			if (bindex_get(&b, b.tab[i].id, &loc) != 1 || loc.pack >= b.npacks ||
			    loc.len > MAX_BLOB)
				abort();
		}
	}
	bindex_free(&b);
	free(buf);
	return 0;
}
