// SPDX-License-Identifier: GPL-2.0
/* cryptsnap jobs --vault VAULT [--json] */
#include <getopt.h>
#include <stdio.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/util.h"
#include "lib/vjson.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap jobs --vault VAULT [--json]\n"
		"\nLists jobs with their state and progress (no key needed).\n");
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

int cmd_jobs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL;
	struct vault *v = NULL;
	void *arr;
	int c, json = 0, r;
	size_t i;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	r = cli_vault("jobs", vault, 0, NULL, &v);
	if (r)
		return r;
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
