// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap config check [--config FILE]: every error of the configuration;
 * and cli_config(), how the other commands read it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
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

/* A file named by --config or $CRYPTSNAP_CONFIG must exist; the default
 * may be absent. */
static int load(const char *path, struct config *c)
{
	const char *env = getenv("CRYPTSNAP_CONFIG");

	return config_load(path ? path : config_path(), path || (env && *env), c);
}

static void print_errors(const struct config *c)
{
	size_t i;

	for (i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
}

int cli_config(const char *cmd, const char *disk, struct config *c,
	       struct config_section *eff)
{
	int r = load(NULL, c);

	if (r) {
		print_errors(c);
		fprintf(stderr, "cryptsnap %s: fix %s first ('cryptsnap config check' lists "
			"every error)\n", cmd, c->path);
		config_free(c);
		return r == -ENOENT ? EXIT_NOTFOUND : EXIT_USAGE;
	}
	config_for_disk(c, disk ? disk : "", eff);
	return EXIT_OK;
}

static int config_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL;
	struct config c;
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
	r = load(path, &c);
	print_errors(&c);
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
