/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CMD_COMMON_H
#define CRYPTSNAP_CMD_COMMON_H

/* Helpers shared by the command files: the only code that prints. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_job.h"

/* Maps a negative errno to an exit code (cmd.h). */
int exit_code(int err);
/* Prints "cryptsnap <cmd>: <what>: <reason>" and returns the exit code. */
int fail(const char *cmd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like fail() but with strerror() (none when err is 0, then the exit code
 * is EXIT_FAIL): for errors outside the vault, where fail()'s vault-specific
 * wording would mislead (EPERM there means a bad key file mode). */
int fail_errno(const char *cmd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Opens (and with kek != NULL or unlock set, unlocks) a vault, printing
 * errors.  Returns an exit code. */
int cli_vault(const char *cmd, const char *loc, int unlock, const char *kek,
	      struct vault **out);
/* Loads the configuration file (cli/cmd_config.c), printing every error,
 * and gives disk's settings over [defaults] (disk NULL: [defaults]).  The
 * strings in *eff live until config_free(c).  Returns an exit code. */
struct config;
struct config_section;
int cli_config(const char *cmd, const char *disk, struct config *c,
	       struct config_section *eff);

/* Progress: a thread that redraws a bar on a TTY (rate, ETA) and
 * persists the job, reading *counter. */
struct monitor {
	pthread_t t;
	struct vault_job *job;
	const uint64_t *counter;
	uint64_t total;
	int tty, stop, running;
	double start;
	const char *label;
	pthread_mutex_t mu;
	pthread_cond_t cond;
};

void monitor_start(struct monitor *m, struct vault_job *job, const uint64_t *counter,
		   uint64_t total, const char *label);
void monitor_stop(struct monitor *m);
double now_seconds(void);

/* After vault_backup_finish(), with CRYPTSNAP_BACKUP_TRACE set: where the
 * backup's time went, to stderr (bench/vault-bench.sh shows it). */
void backup_trace(struct vault_backup *vb);

#endif
