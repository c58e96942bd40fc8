// SPDX-License-Identifier: GPL-2.0
/* cryptsnap: block-level backup of dm-crypt disks without decryption. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"

static const struct command commands[] = {
	{ "version", cmd_version, "print the tool version" },
	{ "vault", cmd_vault, "create a vault (vault init)" },
	{ "protect", cmd_protect, "put a live dm-crypt disk under protection" },
	{ "unprotect", cmd_unprotect, "take a disk out of protection (live)" },
	{ "status", cmd_status, "tracking and snapshot state of protected disks" },
	{ "backup", cmd_backup, "store a recovery point of a protected disk or an image" },
	{ "points", cmd_points, "list recovery points" },
	{ "restore", cmd_restore, "write a recovery point to a file or device" },
	{ "verify", cmd_verify, "check every chunk and index of the vault" },
	{ "prune", cmd_prune, "remove points by retention rules, then collect garbage" },
	{ "key", cmd_key, "show or rotate the vault KEK; escrow a disk's new key" },
	{ "jobs", cmd_jobs, "list backup, restore, verify and key jobs" },
	{ "config", cmd_config, "check the configuration file (config check)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cryptsnap <command> [options]\n\ncommands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'cryptsnap <command> --help' describes one command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "cryptsnap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
