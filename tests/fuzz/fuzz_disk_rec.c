// SPDX-License-Identifier: GPL-2.0
/* A disk record with its escrow slot (vault_disk.c), the JSON inside the
 * sealed object.  A decoded record encodes again. */
#include "fuzz.h"
#include "vault/vault_disk.h"
#include "vault/vault_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_disk_rec rec;
	struct escrow_slot key;
	char *s;
	size_t len;

	if (vault_disk_decode(data, size, &rec, &key))
		return 0;
	if (vault_disk_encode(&rec, &key, &s, &len))
		abort();
	free(s);
	escrow_slot_free(&key);
	return 0;
}
