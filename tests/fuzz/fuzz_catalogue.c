// SPDX-License-Identifier: GPL-2.0
/* The catalogue of points (vault_catalogue.c): byte 0 is the counter its
 * object name says, the rest the JSON inside the sealed object.  A
 * decoded catalogue encodes again and decodes to the same count. */
#include "fuzz.h"
#include "vault/vault_catalogue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalogue c, back;
	char *s;
	size_t len;

	if (!size || catalogue_decode((const char *)data + 1, size - 1, data[0], &c))
		return 0;
	if (catalogue_encode(&c, &s, &len) || catalogue_decode(s, len, data[0], &back) ||
	    back.n != c.n)
		abort();
	catalogue_free(&back);
	free(s);
	catalogue_free(&c);
	return 0;
}
