// SPDX-License-Identifier: GPL-2.0
/* The LUKS1/LUKS2 header parser (sys/luks_meta.c): bounded by len. */
#include "fuzz.h"
#include "sys/luks_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan sees any read past the end. */
	uint8_t *hdr = malloc(size ? size : 1);
	struct luks_meta m;
	char hex[LUKS_META_HASH_HEX];

	if (!hdr)
		abort();
	memcpy(hdr, data, size);
	if (!luks_meta_parse(hdr, size, &m))
		luks_meta_hex(m.layout, hex);
	free(hdr);
	return 0;
}
