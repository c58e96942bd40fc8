// SPDX-License-Identifier: GPL-2.0
/* cryptsnap jobs [--vault VAULT] [--json] [--follow [ID]] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/util.h"
#include "lib/vjson.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap jobs [--vault VAULT] [--json]\n"
		"       cryptsnap jobs [--vault VAULT] --follow [ID]\n"
		"\nLists jobs with their state and progress (no key needed).\n"
		"  --vault VAULT   default: the configuration file's [defaults]\n"
		"  --json          the records as JSON\n"
		"  --follow [ID]   prints the progress of job ID (default: the newest\n"
		"                  running one) until it ends; exits with its result\n");
}

static void print_job(json_object *o)
{
	const char *id = "", *type = "", *state = "", *detail = "", *err = "";
	int64_t done = 0, total = 0, started = 0;
	char t[32], d[32], tt[32];

	vj_str(o, "id", &id);
	vj_str(o, "type", &type);
	vj_str(o, "state", &state);
	vj_str(o, "detail", &detail);
	vj_str(o, "error", &err);
	vj_i64(o, "bytes_done", &done);
	vj_i64(o, "bytes_total", &total);
	vj_i64(o, "started", &started);
	format_time(started, t, sizeof(t));
	format_bytes((uint64_t)done, d, sizeof(d));
	format_bytes((uint64_t)total, tt, sizeof(tt));
	printf("%-26s %-8s %-12s %-20s %10s / %-10s %s %s\n", id, type, state, t, d, tt,
	       detail, err);
}

#define POLL_NS	250000000L	/* how often --follow reads the record */

struct sample {
	const char *id, *type, *detail, *state, *point, *error;
	int64_t done, total, started, ended, err, exit;
};

static void read_sample(json_object *o, struct sample *s)
{
	memset(s, 0, sizeof(*s));
	s->id = s->type = s->detail = s->state = s->point = s->error = "";
	vj_str(o, "id", &s->id);
	vj_str(o, "type", &s->type);
	vj_str(o, "detail", &s->detail);
	vj_str(o, "state", &s->state);
	vj_str(o, "point", &s->point);
	vj_str(o, "error", &s->error);
	vj_i64(o, "bytes_done", &s->done);
	vj_i64(o, "bytes_total", &s->total);
	vj_i64(o, "started", &s->started);
	vj_i64(o, "ended", &s->ended);
	vj_i64(o, "errno", &s->err);
	vj_i64(o, "exit", &s->exit);
}

/* The id of the newest running job, or NULL; *buf owns it. */
static const char *newest_running(struct vault *v, char *buf, size_t len)
{
	const char *state, *id;
	void *arr;
	size_t i;

	if (job_list(v, &arr) < 0)
		return NULL;
	for (i = json_object_array_length(arr); i-- > 0;) {
		json_object *o = json_object_array_get_idx(arr, i);

		if (!vj_str(o, "state", &state) && !strcmp(state, "running") &&
		    !vj_str(o, "id", &id)) {
			snprintf(buf, len, "%s", id);
			json_object_put(arr);
			return buf;
		}
	}
	json_object_put(arr);
	return NULL;
}

static void print_progress(const struct sample *s)
{
	int64_t secs = time(NULL) - s->started;
	char d[32], t[32], r[32];

	format_bytes((uint64_t)s->done, d, sizeof(d));
	format_bytes((uint64_t)s->total, t, sizeof(t));
	format_bytes(secs > 0 ? (uint64_t)(s->done / secs) : 0, r, sizeof(r));
	if (s->total > 0)
		printf("%s %s %s: running, %s / %s (%d%%), %s/s\n", s->id, s->type, s->detail, d, t,
		       (int)(s->done * 100 / s->total), r);
	else
		printf("%s %s %s: running, %s, %s/s\n", s->id, s->type, s->detail, d, r);
	fflush(stdout);
}

/* The last line and the job's result as an exit code. */
static int print_end(const struct sample *s)
{
	char d[32];
	int code;

	format_bytes((uint64_t)s->done, d, sizeof(d));
	if (!strcmp(s->state, "done")) {
		printf("%s %s %s: done, %s in %lld s%s%s\n", s->id, s->type, s->detail, d,
		       (long long)(s->ended - s->started), s->point[0] ? ", point " : "", s->point);
		return EXIT_OK;
	}
	if (!strcmp(s->state, "interrupted")) {
		printf("%s %s %s: interrupted (its process is gone), %s done\n", s->id, s->type,
		       s->detail, d);
		return EXIT_FAIL;
	}
	code = s->exit > 0 && s->exit < 126 ? (int)s->exit :
	       s->err > 0 && s->err < 4096 ? exit_code(-(int)s->err) : EXIT_FAIL;
	printf("%s %s %s: %s: %s (exit status %d)\n", s->id, s->type, s->detail, s->state,
	       s->error[0] ? s->error : "no reason recorded", code);
	return code;
}

/* Prints a line whenever the record changes, until the job ends. */
static int follow(struct vault *v, const char *id)
{
	struct timespec pause = { 0, POLL_NS };
	int64_t last_done = -1;
	struct sample s;
	json_object *o;
	char buf[64];
	int r;

	if (!id && !(id = newest_running(v, buf, sizeof(buf)))) {
		fprintf(stderr, "cryptsnap jobs: no running job in the vault\n");
		return EXIT_NOTFOUND;
	}
	for (;;) {
		r = job_get(v, id, (void **)&o);
		if (r == -EINVAL) {
			fprintf(stderr, "cryptsnap jobs: '%s' is not a job id (cryptsnap jobs lists "
				"them)\n", id);
			return EXIT_USAGE;
		}
		if (r == -ENOENT) {
			fprintf(stderr, "cryptsnap jobs: no job %s in the vault\n", id);
			return EXIT_NOTFOUND;
		}
		if (r < 0)
			return fail("jobs", r, "cannot read job %s", id);
		read_sample(o, &s);
		if (strcmp(s.state, "running")) {
			r = print_end(&s);
			json_object_put(o);
			return r;
		}
		if (s.done != last_done)
			print_progress(&s);
		last_done = s.done;
		json_object_put(o);
		nanosleep(&pause, NULL);
	}
}

/* --vault, else the configuration's [defaults]. */
static int open_vault(const char *vault, struct vault **v, struct config *cfg)
{
	struct config_section eff;
	int r;

	if (!vault) {
		r = cli_config("jobs", NULL, cfg, &eff);
		if (r)
			return r;
		vault = eff.vault;
	}
	return cli_vault("jobs", vault, 0, NULL, v);
}

int cmd_jobs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL;
	struct config cfg = { 0 };
	struct vault *v = NULL;
	void *arr;
	int c, json = 0, follow_job = 0, r;
	size_t i;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'j': json = 1; break;
		case 'f': follow_job = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc - (follow_job ? 1 : 0) || (follow_job && json)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = open_vault(vault, &v, &cfg);
	config_free(&cfg);
	if (r)
		return r;
	if (follow_job) {
		r = follow(v, optind < argc ? argv[optind] : NULL);
		vault_close(v);
		return r;
	}
	r = job_list(v, &arr);
	vault_close(v);
	if (r < 0)
		return fail("jobs", r, "cannot list jobs");
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
	} else {
		printf("%-26s %-8s %-12s %-20s %23s %s\n", "JOB", "TYPE", "STATE", "STARTED",
		       "BYTES", "DETAIL");
		for (i = 0; i < json_object_array_length(arr); i++)
			print_job(json_object_array_get_idx(arr, i));
	}
	json_object_put(arr);
	return EXIT_OK;
}
