// SPDX-License-Identifier: GPL-2.0
/* cryptsnap: block-level backup of dm-crypt disks without decryption. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "lib/secmem.h"
#include "lib/crypto.h"

static const struct command commands[] = {
	{ "version", cmd_version, "print the tool version", 0 },
	{ "vault", cmd_vault, "create a vault (vault init), its retention (vault retention), repair", CMD_KEYS },
	{ "protect", cmd_protect, "put a live dm-crypt disk under protection", CMD_KEYS },
	{ "unprotect", cmd_unprotect, "take a disk out of protection (live)", 0 },
	{ "status", cmd_status, "tracking and snapshot state of protected disks", 0 },
	{ "boot", cmd_boot, "at boot: stack the target, reload the map saved at shutdown", 0 },
	{ "shutdown", cmd_shutdown, "at shutdown: save the change map, remove the target", 0 },
	{ "backup", cmd_backup, "store a recovery point of a protected disk or an image", CMD_KEYS },
	{ "points", cmd_points, "list recovery points", CMD_KEYS },
	{ "restore", cmd_restore, "write a recovery point to a file or device", CMD_KEYS },
	{ "mount", cmd_mount, "open a recovery point read-only at a directory, in place", CMD_KEYS },
	{ "umount", cmd_umount, "unmount a recovery point and remove its devices", 0 },
	{ "verify", cmd_verify, "check every chunk and index of the vault", CMD_KEYS },
	{ "prune", cmd_prune, "delete points by retention rules, then collect garbage", CMD_KEYS },
	{ "undelete", cmd_undelete, "bring back a deleted point before it is purged", CMD_KEYS },
	{ "key", cmd_key, "show or rotate the vault KEK; escrow a disk's new key", CMD_KEYS },
	{ "jobs", cmd_jobs, "list backup, restore, verify and key jobs", 0 },
	{ "lock", cmd_lock, "list the vault's locks; break one whose job is gone", 0 },
	{ "config", cmd_config, "check the configuration file (config check)", 0 },
	{ "policy", cmd_policy, "make systemd timers match the schedules (policy apply)", 0 },
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

/*
 * Before any command: no core dumps, ever (a dump of a key-handling run
 * holds keys), and for commands that handle keys, memory that can be
 * locked.  Policy: refuse rather than warn.  The tool runs as root, which
 * locks memory whatever RLIMIT_MEMLOCK says (CAP_IPC_LOCK); a run that
 * cannot lock is misconfigured, and continuing would let keys reach swap
 * silently.  secmem_alloc() refuses too, for a limit reached later.
 */
static int harden(const struct command *c, int argc, char **argv)
{
	int r = secmem_harden_process();

	if (r) {
		fprintf(stderr, "cryptsnap %s: cannot disable core dumps: %s\n", c->name,
			strerror(-r));
		return EXIT_FAIL;
	}
	if (!(c->flags & CMD_KEYS) || (argc > 1 && (!strcmp(argv[1], "--help") ||
						    !strcmp(argv[1], "-h"))))
		return EXIT_OK;
	r = secmem_probe(CMD_KEYS_PROBE);
	if (r) {
		fprintf(stderr, "cryptsnap %s: cannot lock memory for key material (mlock: %s); "
			"raise RLIMIT_MEMLOCK (ulimit -l) or run as root; refusing to let keys "
			"reach swap\n", c->name, strerror(-r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	size_t i;
	int r;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Before any private key is read (lib/crypto.c says what it holds);
	 * without it OpenSSL keeps working on its ordinary heap. */
	(void)crypto_secure_heap_init();
	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name)) {
			r = harden(&commands[i], argc - 1, argv + 1);
			return r ? r : commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "cryptsnap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
