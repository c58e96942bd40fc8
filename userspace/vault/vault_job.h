/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_JOB_H
#define CRYPTSNAP_VAULT_JOB_H

/*
 * Jobs: every backup, restore, verify and key change is recorded as
 * "jobs/<id>.json" with its state and byte counts, rewritten as it runs.
 * A job left "running" by a dead process is reported as "interrupted".
 * jobs/ is bounded: starting a job deletes all but the newest JOB_KEEP
 * records (the new one included), except records of jobs still running.
 * Each start and finish is also one line of the system log (lib/log.h).
 * A finished record keeps "errno" (0 when done) and "exit" (the exit code
 * the caller set in j->exit, 0 when it set none).
 */
#include <stdint.h>

#include "vault/vault.h"

#define JOB_KEEP 100

struct vault_job {
	struct vault *v;
	char id[48];
	char type[16];
	char detail[128];
	char point[48];
	char error[128];
	const char *state;
	uint64_t done, total;
	int64_t started, ended, saved;
	int pid;
	char host[64];
	int err;		/* job_finish()'s err, as a positive errno */
	int exit;		/* the process's exit code when the caller knows it */
	double t0;		/* monotonic start, for the logged duration */
};

int job_start(struct vault *v, const char *type, const char *detail,
	      uint64_t total, struct vault_job **out);
/* Persists at most every two seconds unless force. */
void job_update(struct vault_job *j, uint64_t done, int force);
void job_finish(struct vault_job *j, int err, const char *errmsg);
/* All jobs as a JSON array (json_object *), oldest first. */
int job_list(struct vault *v, void **array);
/* The record of job id as a json_object * (a running job whose process is
 * gone says "interrupted").  -EINVAL: id is not a job id; -ENOENT: no such
 * job. */
int job_get(struct vault *v, const char *id, void **obj);

#endif
