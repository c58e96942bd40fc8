/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CLI_RESTORE_FILES_H
#define CRYPTSNAP_CLI_RESTORE_FILES_H

/* restore --files (cmd_restore_files.c): files out of a mounted point. */
#define RESTORE_FILES_MAX	256

struct restore_files_args {
	const char *vault, *point, *kek, *to;
	const char *files[RESTORE_FILES_MAX];
	unsigned int nfiles;
};

/* An exit code. */
int restore_files(const struct restore_files_args *f);

#endif
