// SPDX-License-Identifier: GPL-2.0
/* cryptsnap points --vault VAULT [--disk NAME] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_blob.h"
#include "vault/vault_points.h"
#include "vault/vault_softdel.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap points --vault VAULT [--disk NAME] [--kek FILE] [--json] "
		"[--deleted]\n"
		"\nLists recovery points, oldest first.  --deleted lists the points prune\n"
		"deleted instead, with when GC purges them ('cryptsnap undelete ID').\n");
}

struct list_opts {
	const char *disk;
	int json, deleted;
	int64_t grace;
};

static json_object *point_json(const struct manifest *m, const struct list_opts *lo)
{
	json_object *o = json_object_new_object(), *e = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "id", json_object_new_string(m->id));
	json_object_object_add(o, "disk", json_object_new_string(m->disk));
	json_object_object_add(o, "created", json_object_new_int64(m->created));
	json_object_object_add(o, "retain_until", json_object_new_int64(m->retain_until));
	if (m->deleted) {
		json_object_object_add(o, "deleted", json_object_new_int64(m->deleted));
		json_object_object_add(o, "purge_after", json_object_new_int64(
			softdel_purge_time(m, lo->grace)));
	}
	json_object_object_add(o, "image_size", json_object_new_int64((int64_t)m->image_size));
	json_object_object_add(o, "bytes_new", json_object_new_int64((int64_t)m->bytes_new));
	json_object_object_add(o, "bytes_stored", json_object_new_int64((int64_t)m->bytes_stored));
	json_object_object_add(o, "chunks_zero", json_object_new_int64((int64_t)m->chunks_zero));
	for (i = 0; i < m->nescrow; i++)
		json_object_array_add(e, json_object_new_string(m->escrow[i].name));
	json_object_object_add(o, "escrow", e);
	return o;
}

static void print_point(const struct manifest *m, const struct list_opts *lo)
{
	char t[32], r[32] = "-", s[32], n[32], d[32], p[32];

	if (lo->deleted) {
		format_time(m->deleted, d, sizeof(d));
		format_time(softdel_purge_time(m, lo->grace), p, sizeof(p));
		printf("%-26s %-16s %-20s %-20s %s\n", m->id, m->disk, d, p,
		       m->retain_until ? "retain-until" : "");
		return;
	}

	format_time(m->created, t, sizeof(t));
	if (m->retain_until)
		format_time(m->retain_until, r, sizeof(r));
	format_bytes(m->image_size, s, sizeof(s));
	format_bytes(m->bytes_new, n, sizeof(n));
	printf("%-26s %-16s %-20s %10s %10s  %s\n", m->id, m->disk, t, s, n, r);
}

static int list(struct vault *v, const struct list_opts *lo)
{
	const char *disk = lo->disk;
	int json = lo->json;
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
	if (!json && lo->deleted)
		printf("%-26s %-16s %-20s %-20s\n", "POINT", "DISK", "DELETED", "PURGE-AFTER");
	else if (!json)
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
		if ((!disk || !strcmp(disk, m.disk)) && !m.deleted == !lo->deleted) {
			if (json)
				json_object_array_add(a, point_json(&m, lo));
			else
				print_point(&m, lo);
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
		{ "deleted", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL, *kek = NULL;
	struct list_opts lo = { 0 };
	struct config cfg;
	struct config_section eff;
	struct vault *v = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'd': lo.disk = optarg; break;
		case 'k': kek = optarg; break;
		case 'j': lo.json = 1; break;
		case 'D': lo.deleted = 1; break;
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
	/* When a deleted point goes: by this host's grace period, the one
	 * prune applies (the configuration's deleted-grace, if any). */
	if (lo.deleted) {
		r = cli_config("points", NULL, &cfg, &eff);
		if (!r)
			r = cli_softdel("points", v, &eff, &lo.grace);
		config_free(&cfg);
		if (r) {
			vault_close(v);
			return r;
		}
	}
	r = list(v, &lo);
	c = cli_catalogue_report("points", v, !lo.json, r == EXIT_OK);
	vault_close(v);
	return r ? r : c;
}
