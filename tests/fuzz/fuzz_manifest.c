// SPDX-License-Identifier: GPL-2.0
/* A point's manifest (vault_manifest.c), as the JSON inside the sealed
 * object; escrow slots included.  A decoded manifest encodes again. */
#include "fuzz.h"
#include "vault/vault_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	char *s;
	size_t len;

	if (manifest_decode(data, size, 65536, 4096, &m))
		return 0;
	if (manifest_encode(&m, &s, &len))
		abort();
	free(s);
	manifest_free(&m);
	return 0;
}
