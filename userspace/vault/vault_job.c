// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
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
	if (!vj_dump(o, &s, &n)) {
		snprintf(name, sizeof(name), "jobs/%s.json", j->id);
		/* Best effort: a job record never fails the job itself. */
		backend_put(j->v->be, name, s, n);
		free(s);
	}
	json_object_put(o);
	j->saved = time(NULL);
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
	gethostname(j->host, sizeof(j->host) - 1);
	job_save(j);
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
	job_save(j);
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
