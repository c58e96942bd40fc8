// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>

#include "cli/cmd.h"
#include "cryptsnap-dm.h"

int cmd_version(int argc, char **argv)
{
	printf("cryptsnap %u.%u.%u\n", CRYPTSNAP_VERSION_MAJOR,
	       CRYPTSNAP_VERSION_MINOR, CRYPTSNAP_VERSION_PATCH);
	return EXIT_OK;
}
