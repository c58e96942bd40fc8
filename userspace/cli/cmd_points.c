// SPDX-License-Identifier: GPL-2.0
/* cryptsnap points --vault VAULT [--disk NAME] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_blob.h"
#include "vault/vault_points.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap points --vault VAULT [--disk NAME] [--kek FILE] [--json]\n"
		"\nLists recovery points, oldest first.\n");
}

static json_object *point_json(const struct manifest *m)
{
	json_object *o = json_object_new_object(), *e = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "id", json_object_new_string(m->id));
	json_object_object_add(o, "disk", json_object_new_string(m->disk));
	json_object_object_add(o, "created", json_object_new_int64(m->created));
	json_object_object_add(o, "retain_until", json_object_new_int64(m->retain_until));
	json_object_object_add(o, "image_size", json_object_new_int64((int64_t)m->image_size));
	json_object_object_add(o, "bytes_new", json_object_new_int64((int64_t)m->bytes_new));
	json_object_object_add(o, "bytes_stored", json_object_new_int64((int64_t)m->bytes_stored));
	json_object_object_add(o, "chunks_zero", json_object_new_int64((int64_t)m->chunks_zero));
	for (i = 0; i < m->nescrow; i++)
		json_object_array_add(e, json_object_new_string(m->escrow[i].name));
	json_object_object_add(o, "escrow", e);
	return o;
}

static void print_point(const struct manifest *m)
{
	char t[32], r[32] = "-", s[32], n[32];

	format_time(m->created, t, sizeof(t));
	if (m->retain_until)
		format_time(m->retain_until, r, sizeof(r));
	format_bytes(m->image_size, s, sizeof(s));
	format_bytes(m->bytes_new, n, sizeof(n));
	printf("%-26s %-16s %-20s %10s %10s  %s\n", m->id, m->disk, t, s, n, r);
}

static int list(struct vault *v, const char *disk, int json)
{
	json_object *a = json_object_new_array();
	struct name_list ids = { 0 };
	struct blob_ctx c;
	size_t i;
	int r, bad = 0;

	r = blob_ctx_init(&c, v);
	if (!r)
		r = vault_point_ids(v, &ids);
	if (r < 0) {
		json_object_put(a);
		return fail("points", r, "cannot list points");
	}
	if (!json)
		printf("%-26s %-16s %-20s %10s %10s  %s\n", "POINT", "DISK", "CREATED",
		       "SIZE", "NEW", "RETAIN-UNTIL");
	for (i = 0; i < ids.n; i++) {
		struct manifest m;

		r = vault_point_load(v, &c, ids.names[i], &m);
		if (r < 0) {
			fail("points", r, "point %s", ids.names[i]);
			bad = 1;
			continue;
		}
		if (!disk || !strcmp(disk, m.disk)) {
			if (json)
				json_object_array_add(a, point_json(&m));
			else
				print_point(&m);
		}
		manifest_free(&m);
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY));
	json_object_put(a);
	name_list_free(&ids);
	blob_ctx_free(&c);
	return bad ? EXIT_CORRUPT : EXIT_OK;
}

int cmd_points(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "disk", required_argument, NULL, 'd' },
		{ "kek", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL, *disk = NULL, *kek = NULL;
	struct vault *v = NULL;
	int c, json = 0, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'd': disk = optarg; break;
		case 'k': kek = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = cli_vault("points", vault, 1, kek, &v);
	if (r)
		return r;
	r = list(v, disk, json);
	c = cli_catalogue_report("points", v, !json, r == EXIT_OK);
	vault_close(v);
	return r ? r : c;
}
