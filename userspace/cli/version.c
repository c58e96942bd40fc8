// SPDX-License-Identifier: GPL-2.0
/* cryptsnap version [--hardening] */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cryptsnap-dm.h"
#include "lib/secmem.h"

/* What the kernel says about this very process, after main()'s hardening:
 * a check for admins and tests, read live, never assumed. */
static int hardening(void)
{
	uint64_t core;
	int dumpable, r = secmem_process_state(&dumpable, &core);

	if (r) {
		fprintf(stderr, "cryptsnap version: cannot read the process state: %s\n",
			strerror(-r));
		return EXIT_FAIL;
	}
	printf("dumpable %d\ncore-limit %" PRIu64 "\n", dumpable, core);
	r = secmem_probe(CMD_KEYS_PROBE);
	printf("memory-lock %s%s%s\n", r ? "fails (" : "ok", r ? strerror(-r) : "", r ? ")" : "");
	return EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--hardening"))
		return hardening();
	if (argc != 1) {
		fprintf(stderr, "cryptsnap version: usage: cryptsnap version [--hardening]\n");
		return EXIT_USAGE;
	}
	printf("cryptsnap %u.%u.%u\n", CRYPTSNAP_VERSION_MAJOR,
	       CRYPTSNAP_VERSION_MINOR, CRYPTSNAP_VERSION_PATCH);
	return EXIT_OK;
}
