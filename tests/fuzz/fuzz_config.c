// SPDX-License-Identifier: GPL-2.0
/* The configuration file parser (lib/config.c): every error collected,
 * nothing read beyond the text, everything freed. */
#include "fuzz.h"
#include "lib/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct config c;
	struct config_section eff;

	if (!config_load_string("fuzz.conf", s, &c) && c.ndisks)
		config_for_disk(&c, c.disks[0].name, &eff);
	config_free(&c);
	free(s);
	return 0;
}
