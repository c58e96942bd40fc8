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
/* A KEK file that cannot be used; -ERANGE (key size) gets its own words. */
int fail_kek(const char *cmd, int err, const char *file);
/* Opens (and with kek != NULL or unlock set, unlocks) a vault, printing
 * errors.  Returns an exit code. */
/* Before a command writes points: the catalogue of points exists (built
 * from the points present, said on stderr, for a vault of an older build)
 * and is not older than this host saw.  An exit code. */
int cli_catalogue_ensure(const char *cmd, struct vault *v);
/* Checks the catalogue of points (vault_catalogue_check): with print, one
 * "DAMAGED catalogue: ..." line per problem on stdout; with say, one line
 * on stderr.  EXIT_CORRUPT on any problem. */
int cli_catalogue_report(const char *cmd, struct vault *v, int print, int say);
/* The same check, its problems as lines (for JSON); *absent when the vault
 * has no catalogue yet.  0 or a negative errno. */
int cli_catalogue_damage(struct vault *v, struct name_list *lines, int *absent);
int cli_vault(const char *cmd, const char *loc, int unlock, const char *kek,
	      struct vault **out);
/* Loads the configuration file (cli/cmd_config.c), printing every error,
 * and gives disk's settings over [defaults] (disk NULL: [defaults]).  The
 * strings in *eff live until config_free(c).  Returns an exit code. */
struct config;
struct config_section;
int cli_config(const char *cmd, const char *disk, struct config *c,
	       struct config_section *eff);

/* cmd_softdel.c: this host's grace period of deleted points (seconds):
 * the vault's and the pin's longest, or deleted-grace of the
 * configuration (eff, may be NULL) unless the vault is locked and that is
 * shorter (printed, EXIT_FAIL).  An exit code. */
int cli_softdel(const char *cmd, struct vault *v, const struct config_section *eff,
		int64_t *grace);

/* Strict numeric options (lib/util.h parsers): on a malformed or out of
 * range value print one line naming the option and the range and return
 * EXIT_USAGE; 0 on success. */
#define CLI_THREADS_MAX 256
int cli_uint(const char *cmd, const char *opt, const char *arg, unsigned int min,
	     unsigned int max, unsigned int *out);
int cli_size(const char *cmd, const char *opt, const char *arg, uint64_t min,
	     uint64_t max, uint64_t *out);

/* cmd_lock.c: the refusal when vault_lock() returned -EBUSY: says which
 * lock is in the way (host, pid, kind, age) and how to break it; returns
 * EXIT_BUSY. */
int cli_vault_busy(const char *cmd, struct vault *v, int kind, const char *what);
/* cmd_lock.c: takes the host's lock of a protected disk (sys/disk_lock.h),
 * printing the refusal (EXIT_BUSY, naming the holder's pid). */
int cli_disk_lock(const char *cmd, const char *disk, int *fd);
struct disk_state;
/* "CMD [--help] DISK": the protected disk loaded into *d (EXIT_OK), -1
 * after --help, or an exit code after an error it printed. */
int cli_one_disk_arg(const char *cmd, int argc, char **argv, const char *usage,
		     struct disk_state *d);

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
/* With the environment variable env set: "CMD trace: phase NAME s" on
 * stderr, the time since the previous call (the first call starts the
 * clock).  CRYPTSNAP_BACKUP_TRACE for backup, CRYPTSNAP_MOUNT_TRACE for
 * mount. */
void trace_phase(const char *env, const char *cmd, const char *name);
#define backup_trace_phase(name) trace_phase("CRYPTSNAP_BACKUP_TRACE", "backup", name)
#define mount_trace_phase(name) trace_phase("CRYPTSNAP_MOUNT_TRACE", "mount", name)

#endif
