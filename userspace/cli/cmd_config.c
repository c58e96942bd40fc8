// SPDX-License-Identifier: GPL-2.0
/* cryptsnap config check [--config FILE]: every error of the configuration. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "lib/config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap config check [--config FILE]\n"
		"\n"
		"Parses the configuration file and prints every error as FILE:LINE: message\n"
		"(exit status 2 when there is one).  The file is --config FILE, else\n"
		"$CRYPTSNAP_CONFIG, else " CONFIG_DEFAULT_PATH ".\n"
		"  --config FILE   the file to check\n");
}

static int config_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL, *env = getenv("CRYPTSNAP_CONFIG");
	struct config c;
	size_t i;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* A file named on purpose must exist; the default may be absent. */
	r = config_load(path ? path : config_path(), path || (env && *env), &c);
	for (i = 0; i < c.nerrors; i++)
		fprintf(stderr, "%s\n", c.errors[i]);
	if (!r && !c.found)
		printf("%s: absent; built-in defaults apply\n", c.path);
	else if (!r)
		printf("%s: ok ([defaults]%s, %zu disk section%s)\n", c.path,
		       c.defaults.line ? "" : " absent", c.ndisks, c.ndisks == 1 ? "" : "s");
	else if (r == -EINVAL)
		fprintf(stderr, "cryptsnap config: %zu error%s in %s\n", c.nerrors,
			c.nerrors == 1 ? "" : "s", c.path);
	config_free(&c);
	if (r == -ENOENT)
		return EXIT_NOTFOUND;
	if (r == -EINVAL)
		return EXIT_USAGE;
	return r ? EXIT_FAIL : EXIT_OK;
}

int cmd_config(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return config_check(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	usage(stderr);
	return EXIT_USAGE;
}
