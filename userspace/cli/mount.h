/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CLI_MOUNT_H
#define CRYPTSNAP_CLI_MOUNT_H

/*
 * A recovery point opened in place (cmd_mount.c): a daemon process serves
 * the point's ciphertext as a read-only NBD device, opens it with
 * libcryptsetup read-only and mounts the filesystem read-only.  Its state
 * is one 0600 file per mount under MOUNT_STATE_DIR, so umount (or the
 * next mount, when the daemon was killed) finds and tears down all of it.
 * Shared with "restore --files" (cmd_restore_files.c).
 */
#define MOUNT_STATE_DIR	"/run/cryptsnap/mounts"

struct mount_args {
	const char *vault, *point, *dir, *key_file, *kek;
	int block_only;
	int quiet;		/* no "mounted ..." line (restore --files) */
};

/* Mounts; returns when the daemon is serving (or failed): an exit code. */
int mount_point(const char *cmd, const struct mount_args *a);
/* Tears down the mount at dir: an exit code. */
int umount_dir(const char *cmd, const char *dir, int quiet);

#endif
