// SPDX-License-Identifier: GPL-2.0
/* cryptsnap backup: scan mode, reads the whole source, stores only what
 * the vault lacks. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/source.h"
#include "vault/backup_feed.h"
#include "vault/vault_backup.h"

struct backup_args {
	const char *vault, *source, *disk, *kek;
	int64_t retain_until;
	int json;
	unsigned int threads;
	uint64_t rate;			/* --rate-limit, bytes per second; 0: none */
	struct vault_escrow_in escrow[MANIFEST_MAX_ESCROW];
	unsigned int nescrow;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap backup DISK [--retain-until DATE] [--full] [--kek FILE] [--json]\n"
		"       cryptsnap backup [--vault VAULT] --source PATH --disk NAME [options]\n"
		"\n"
		"The first form backs up a protected disk from a snapshot: only the\n"
		"chunks changed since its last point (all of them for the first point,\n"
		"or when tracking was not continuous, or with --full).\n"
		"The second (scan mode) stores a new recovery point of PATH (image file or block device).\n"
		"  --retain-until DATE    prune never removes the point before DATE\n"
		"                         (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS UTC, @epoch)\n"
		"  --escrow NAME=FILE     store FILE sealed with the vault DEK (LUKS header)\n"
		"  --escrow-secret NAME=FILE  store FILE wrapped by the KEK (passphrase)\n"
		"  --vault VAULT          default: the configuration file's, for disk NAME\n"
		"  --kek FILE             KEK file instead of the one recorded in the vault\n"
		"  --threads N            worker threads (default: one per CPU)\n"
		"  --rate-limit RATE      read at most RATE bytes a second (K, M, G suffix)\n"
		"  --json                 print the result as JSON\n");
}

static int add_escrow(struct backup_args *a, const char *spec, int kind)
{
	const char *eq = strchr(spec, '=');
	struct vault_escrow_in *e;
	char *name;
	size_t len;
	int r;

	if (!eq || a->nescrow >= MANIFEST_MAX_ESCROW)
		return -EINVAL;
	e = &a->escrow[a->nescrow];
	name = strndup(spec, (size_t)(eq - spec));
	if (!name)
		return -ENOMEM;
	/* A secret (--escrow-secret) goes straight into secure memory. */
	r = (kind == ESCROW_KEK ? read_secret_file : read_small_file)(eq + 1, ESCROW_DATA_MAX,
								     (uint8_t **)&e->data, &len);
	if (r < 0) {
		free(name);
		return r;
	}
	e->name = name;
	e->kind = kind;
	e->len = len;
	a->nescrow++;
	return 0;
}

static void free_escrow(struct backup_args *a)
{
	unsigned int i;

	for (i = 0; i < a->nescrow; i++) {
		if (a->escrow[i].kind == ESCROW_KEK) {
			secmem_free((void *)a->escrow[i].data);
		} else {
			secmem_wipe((void *)a->escrow[i].data, a->escrow[i].len);
			free((void *)a->escrow[i].data);
		}
		free((void *)a->escrow[i].name);
	}
}

static int parse(int argc, char **argv, struct backup_args *a)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "source", required_argument, NULL, 's' },
		{ "disk", required_argument, NULL, 'd' },
		{ "retain-until", required_argument, NULL, 'r' },
		{ "escrow", required_argument, NULL, 'e' },
		{ "escrow-secret", required_argument, NULL, 'E' },
		{ "kek", required_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 't' },
		{ "rate-limit", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->vault = optarg; break;
		case 's': a->source = optarg; break;
		case 'd': a->disk = optarg; break;
		case 'k': a->kek = optarg; break;
		case 'j': a->json = 1; break;
		case 't':
			if (cli_uint("backup", "--threads", optarg, 1, CLI_THREADS_MAX, &a->threads))
				return EXIT_USAGE;
			break;
		case 'R':
			if (cli_size("backup", "--rate-limit", optarg, 4096, UINT64_MAX / 2, &a->rate))
				return EXIT_USAGE;
			break;
		case 'r':
			if (parse_date(optarg, &a->retain_until) < 0) {
				fprintf(stderr, "cryptsnap backup: bad date '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'e': case 'E':
			r = add_escrow(a, optarg, c == 'e' ? ESCROW_DEK : ESCROW_KEK);
			if (r < 0)
				return fail("backup", r, "bad escrow '%s'", optarg);
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!a->source || !a->disk || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!disk_name_valid(a->disk)) {
		fprintf(stderr, "cryptsnap backup: bad disk name '%s'\n", a->disk);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* --rate-limit: after each batch read, sleeps until the bytes read so far
 * are no more than rate times the time since the start. */
struct throttle {
	uint64_t rate, done;
	double t0;
};

static int throttle_read(uint64_t off, uint64_t len, void *arg)
{
	struct throttle *t = arg;
	double ahead;
	struct timespec ts;

	t->done += len;
	ahead = (double)t->done / (double)t->rate - (now_seconds() - t->t0);
	if (ahead > 0) {
		ts.tv_sec = (time_t)ahead;
		ts.tv_nsec = (long)((ahead - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return 0;
}

/* Reads the whole source and feeds the engine. */
static int scan(struct vault_backup *vb, const struct image *img, uint32_t cs, uint64_t rate)
{
	struct throttle t = { .rate = rate, .t0 = now_seconds() };
	struct feed_hook hook = { .read_done = throttle_read, .arg = &t };

	return feed_range(vb, img->fd, img->size, cs, 0, (img->size + cs - 1) / cs, NULL,
			  rate ? &hook : NULL);
}

static void report(const struct backup_args *a, const char *id,
		   const struct vault_backup_stats *st, uint64_t size, double secs)
{
	char n[32], s[32];

	if (a->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "point", json_object_new_string(id));
		json_object_object_add(o, "disk", json_object_new_string(a->disk));
		json_object_object_add(o, "image_size", json_object_new_int64((int64_t)size));
		json_object_object_add(o, "chunks_zero", json_object_new_int64((int64_t)st->chunks_zero));
		json_object_object_add(o, "chunks_new", json_object_new_int64((int64_t)st->chunks_new));
		json_object_object_add(o, "chunks_dedup", json_object_new_int64((int64_t)st->chunks_dedup));
		json_object_object_add(o, "bytes_new", json_object_new_int64((int64_t)st->bytes_new));
		json_object_object_add(o, "bytes_stored", json_object_new_int64((int64_t)st->bytes_stored));
		json_object_object_add(o, "seconds", json_object_new_double(secs));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return;
	}
	format_bytes(st->bytes_new, n, sizeof(n));
	format_bytes(size, s, sizeof(s));
	printf("point %s\n", id);
	printf("disk %s, %s scanned, %s new (%llu new chunks, %llu deduplicated, %llu zero), %.1f s\n",
	       a->disk, s, n, (unsigned long long)st->chunks_new,
	       (unsigned long long)st->chunks_dedup, (unsigned long long)st->chunks_zero, secs);
}

static int run(struct backup_args *a, struct vault *v, const struct image *img)
{
	struct vault_backup_opts o = {
		.disk = a->disk, .image_size = img->size, .retain_until = a->retain_until,
		.escrow = a->escrow, .nescrow = a->nescrow, .threads = a->threads,
	};
	struct vault_backup_stats st = { 0 };
	struct vault_backup *vb = NULL;
	struct vault_job *job = NULL;
	char id[POINT_ID_MAX] = "";
	struct monitor mon;
	double t0 = now_seconds();
	int r;

	job_start(v, "backup", a->disk, img->size, &job);
	r = vault_backup_begin(v, &o, &vb);
	if (r < 0) {
		job_finish(job, r, "begin failed");
		if (r == -EBUSY)
			return cli_vault_busy("backup", v, VAULT_LOCK_SHARED, "cannot start backup");
		return fail("backup", r, "cannot start backup");
	}
	monitor_start(&mon, job, vault_backup_progress(vb), img->size, "backup");
	r = scan(vb, img, v->chunk_size, a->rate);
	monitor_stop(&mon);
	if (!r) {
		r = vault_backup_finish(vb, id);
		backup_trace(vb);
	}
	vault_backup_stats(vb, &st);
	vault_backup_free(vb);
	if (job)
		strncpy(job->point, id, sizeof(job->point) - 1);
	job_finish(job, r, r ? strerror(-r) : NULL);
	if (r < 0)
		return fail("backup", r, "backup of %s failed", a->source);
	report(a, id, &st, img->size, now_seconds() - t0);
	return EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	struct backup_args a = { 0 };
	struct config cfg = { 0 };
	struct config_section eff;
	struct vault *v = NULL;
	struct image img;
	int r;

	/* "backup DISK": a protected disk, fed by the kernel snapshot. */
	if (argc > 1 && argv[1][0] != '-')
		return cmd_backup_disk(argc, argv);
	r = parse(argc, argv, &a);
	if (r)
		goto out;
	/* --vault and --kek not given: the disk's, else [defaults]. */
	r = cli_config("backup", a.disk, &cfg, &eff);
	if (r)
		goto out;
	a.vault = a.vault ? a.vault : eff.vault;
	a.kek = a.kek ? a.kek : eff.kek;
	r = cli_vault("backup", a.vault, 1, a.kek, &v);
	if (!r)
		r = cli_catalogue_ensure("backup", v);
	if (r)
		goto out;
	r = image_open_source(a.source, &img);
	if (r < 0) {
		r = fail("backup", r, "cannot open source %s", a.source);
		goto out;
	}
	r = run(&a, v, &img);
	close(img.fd);
out:
	vault_close(v);
	free_escrow(&a);
	config_free(&cfg);
	return r < 0 ? EXIT_OK : r;
}
