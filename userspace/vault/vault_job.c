// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_job.h"

static void job_save(struct vault_job *j)
{
	json_object *o = json_object_new_object();
	char name[80], *s;
	size_t n;

	json_object_object_add(o, "id", json_object_new_string(j->id));
	json_object_object_add(o, "type", json_object_new_string(j->type));
	json_object_object_add(o, "detail", json_object_new_string(j->detail));
	json_object_object_add(o, "state", json_object_new_string(j->state));
	json_object_object_add(o, "bytes_done", json_object_new_int64((int64_t)j->done));
	json_object_object_add(o, "bytes_total", json_object_new_int64((int64_t)j->total));
	json_object_object_add(o, "started", json_object_new_int64(j->started));
	json_object_object_add(o, "ended", json_object_new_int64(j->ended));
	json_object_object_add(o, "point", json_object_new_string(j->point));
	json_object_object_add(o, "error", json_object_new_string(j->error));
	json_object_object_add(o, "pid", json_object_new_int(j->pid));
	json_object_object_add(o, "host", json_object_new_string(j->host));
	json_object_object_add(o, "errno", json_object_new_int(j->err));
	json_object_object_add(o, "exit", json_object_new_int(j->exit));
	if (!vj_dump(o, &s, &n)) {
		snprintf(name, sizeof(name), "jobs/%s.json", j->id);
		/* Best effort: a job record never fails the job itself. */
		if (!backend_put(j->v->be, name, s, n))
			crashpoint("job.written");
		free(s);
	}
	json_object_put(o);
	j->saved = time(NULL);
}

/* "jobs/YYYYMMDDTHHMMSSZ-xxxxxxxx.json" exactly, as make_time_id writes
 * it: only such names are counted and deleted (they come from the vault). */
static int job_name_ok(const char *name)
{
	static const char *pat = "jobs/DDDDDDDDTDDDDDDZ-HHHHHHHH.json";
	size_t i;

	if (strlen(name) != strlen(pat))
		return 0;
	for (i = 0; pat[i]; i++) {
		char c = name[i];

		if (pat[i] == 'D' ? !(c >= '0' && c <= '9') :
		    pat[i] == 'H' ? !strchr("0123456789abcdef", c) || !c : c != pat[i])
			return 0;
	}
	return 1;
}

/* A record that says "running" for a process that may still run. */
static int job_live(struct vault *v, const char *name)
{
	const char *state, *host;
	json_object *o;
	int64_t pid;
	void *buf;
	size_t len;
	int live = 0;

	if (backend_get(v->be, name, 16384, &buf, &len) < 0)
		return 0;
	if (!vj_parse(buf, len, &o)) {
		live = !vj_str(o, "state", &state) && !strcmp(state, "running") &&
		       !vj_str(o, "host", &host) && !vj_i64(o, "pid", &pid) &&
		       !pid_stale(host, (long)pid);
		json_object_put(o);
	}
	free(buf);
	return live;
}

/*
 * Bounds jobs/: before a new record, every record but the newest
 * JOB_KEEP - 1 is deleted, unless it is still running.  Names sort by
 * time (make_time_id).  Best effort, like the records themselves.
 */
static void job_prune(struct vault *v)
{
	struct name_list l = { 0 };
	size_t i, n = 0, keep = JOB_KEEP - 1;

	if (backend_list(v->be, "jobs/", &l) < 0)
		return;
	for (i = 0; i < l.n; i++)
		n += job_name_ok(l.names[i]);
	name_list_sort(&l);
	for (i = 0; i < l.n && n > keep; i++) {
		if (!job_name_ok(l.names[i]))
			continue;
		n--;
		if (!job_live(v, l.names[i]) && !backend_del(v->be, l.names[i]))
			crashpoint("job.deleted");
	}
	name_list_free(&l);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What a job's detail is, for the log: "disk=data", "point=...". */
static const char *detail_key(const char *type)
{
	if (!strcmp(type, "backup"))
		return "disk";
	if (!strcmp(type, "restore") || !strcmp(type, "verify"))
		return "point";
	if (!strcmp(type, "rotate"))
		return "kek";
	return "detail";
}

int job_start(struct vault *v, const char *type, const char *detail,
	      uint64_t total, struct vault_job **out)
{
	struct vault_job *j = calloc(1, sizeof(*j));
	time_t now = time(NULL);

	if (!j)
		return -ENOMEM;
	make_time_id(now, j->id, sizeof(j->id));
	snprintf(j->type, sizeof(j->type), "%s", type);
	snprintf(j->detail, sizeof(j->detail), "%s", detail ? detail : "");
	j->v = v;
	j->state = "running";
	j->total = total;
	j->started = now;
	j->pid = (int)getpid();
	host_name_self(j->host, sizeof(j->host));
	j->t0 = mono_now();
	job_prune(v);
	job_save(j);
	log_event(LOG_INFO, "%s started: %s=%s job=%s vault=%s", j->type, detail_key(j->type),
		  j->detail, j->id, v->id_hex);
	*out = j;
	return 0;
}

void job_update(struct vault_job *j, uint64_t done, int force)
{
	j->done = done;
	if (force || time(NULL) - j->saved >= 2)
		job_save(j);
}

void job_finish(struct vault_job *j, int err, const char *errmsg)
{
	if (!j)
		return;
	j->state = err ? "failed" : "done";
	if (!err)
		j->done = j->total;
	if (errmsg)
		snprintf(j->error, sizeof(j->error), "%s", errmsg);
	j->ended = time(NULL);
	j->err = err < 0 ? -err : err;
	job_save(j);
	log_event(err ? LOG_ERR : LOG_INFO,
		  "%s %s: %s=%s job=%s point=%s bytes=%llu duration=%.1fs result=%s",
		  j->type, err ? "failed" : "finished", detail_key(j->type), j->detail, j->id,
		  j->point[0] ? j->point : "-", (unsigned long long)j->done, mono_now() - j->t0,
		  err ? (j->error[0] ? j->error : strerror(j->err)) : "ok");
	free(j);
}

static void mark_dead(json_object *o)
{
	const char *state, *host;
	int64_t pid;

	if (vj_str(o, "state", &state) || strcmp(state, "running") ||
	    vj_str(o, "host", &host) || vj_i64(o, "pid", &pid))
		return;
	if (pid_stale(host, (long)pid))
		json_object_object_add(o, "state", json_object_new_string("interrupted"));
}

int job_list(struct vault *v, void **array)
{
	json_object *a = json_object_new_array();
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, "jobs/", &l);

	for (i = 0; !r && i < l.n; i++) {
		json_object *o;
		void *buf;
		size_t len;

		if (backend_get(v->be, l.names[i], 16384, &buf, &len) < 0)
			continue;
		if (!vj_parse(buf, len, &o)) {
			mark_dead(o);
			json_object_array_add(a, o);
		}
		free(buf);
	}
	name_list_free(&l);
	if (r < 0) {
		json_object_put(a);
		return r;
	}
	*array = a;
	return 0;
}

int job_get(struct vault *v, const char *id, void **obj)
{
	char name[80];
	json_object *o;
	void *buf;
	size_t len;
	int r;

	if (strlen(id) > 40)
		return -EINVAL;
	snprintf(name, sizeof(name), "jobs/%s.json", id);
	if (!job_name_ok(name))
		return -EINVAL;
	r = backend_get(v->be, name, 16384, &buf, &len);
	if (r < 0)
		return r;
	r = vj_parse(buf, len, &o);
	free(buf);
	if (r)
		return -EBADMSG;
	mark_dead(o);
	*obj = o;
	return 0;
}
