// SPDX-License-Identifier: GPL-2.0
/* The vault keyring, keys.json (vault_keys.c), read without a KEK as
 * every open does before the unwrap: header, fingerprint, wrapped DEKs. */
#include "fuzz.h"
#include "vault/vault_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_keys *k;

	if (!keys_peek(data, size, &k))
		keys_free(k);
	return 0;
}
