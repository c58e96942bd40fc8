/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CMD_H
#define CRYPTSNAP_CMD_H

/*
 * One entry point per subcommand.  Each returns a process exit code (see
 * docs/cryptsnap.8.md, "EXIT STATUS"); only main() and the command layer
 * print.
 */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	unsigned int flags;	/* CMD_* */
};

/* The command handles key material (KEK, DEKs, passphrases, volume keys):
 * main() refuses to run it when memory cannot be locked. */
#define CMD_KEYS	1U
/* What main() locks as a probe before such a command: more than the keys
 * of one run (a page per key, a few dozen keys). */
#define CMD_KEYS_PROBE	(256U << 10)

/* Exit codes. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* operation failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NOTFOUND = 3,	/* unknown device, vault, disk or point */
	EXIT_KEY = 4,		/* wrong key / key cannot open */
	EXIT_CORRUPT = 5,	/* vault or data damaged */
	EXIT_BUSY = 6,		/* locked by another job */
	EXIT_NOSPACE = 7,	/* out of space */
};

int cmd_version(int argc, char **argv);
int cmd_vault(int argc, char **argv);
int cmd_vault_repair(int argc, char **argv);	/* "vault repair", cmd_repair.c */
int cmd_backup(int argc, char **argv);
int cmd_points(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_undelete(int argc, char **argv);		/* cmd_softdel.c */
int cmd_vault_retention(int argc, char **argv);	/* "vault retention" */
int cmd_key(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_protect(int argc, char **argv);
int cmd_unprotect(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_boot(int argc, char **argv);		/* cmd_persist.c */
int cmd_shutdown(int argc, char **argv);
int cmd_mount(int argc, char **argv);		/* cmd_mount.c */
int cmd_umount(int argc, char **argv);
int cmd_policy(int argc, char **argv);
/* "backup DISK" and "key escrow DISK": protected disks (cmd_backup_disk.c,
 * cmd_protect.c), reached through cmd_backup() and cmd_key(). */
int cmd_backup_disk(int argc, char **argv);
int cmd_key_escrow_disk(int argc, char **argv);

#endif
