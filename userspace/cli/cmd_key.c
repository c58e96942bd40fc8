// SPDX-License-Identifier: GPL-2.0
/* cryptsnap key rotate|show --vault VAULT; key escrow DISK (cmd_protect.c) */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"
#include "vault/vault_log.h"
#include "vault/vault_rotate.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap key show --vault VAULT [--kek FILE] [--json]\n"
		"       cryptsnap key rotate --vault VAULT [--kek NEWFILE] [--old-kek FILE]\n"
		"       cryptsnap key escrow DISK [--key-file FILE]\n"
		"\n"
		"show: KEK mode, generation, fingerprint, DEK use and the authenticated\n"
		"activity log of key changes (exit 5 when the log was tampered with).\n"
		"rotate: re-wraps every DEK and escrowed secret with a new KEK (NEWFILE: a\n"
		"customer-managed RSA PEM key of 2048 to 16384 bits or 32-byte AES key;\n"
		"without --kek a new random vault-managed KEK).  Chunk data is not\n"
		"re-encrypted.  A customer-managed vault never becomes vault-managed.\n");
}

struct key_args {
	const char *vault, *kek, *old_kek;
	int json;
};

static int parse(int argc, char **argv, struct key_args *a)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "kek", required_argument, NULL, 'k' },
		{ "old-kek", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->vault = optarg; break;
		case 'k': a->kek = optarg; break;
		case 'o': a->old_kek = optarg; break;
		case 'j': a->json = 1; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	return optind == argc ? EXIT_OK : EXIT_USAGE;
}

/* Mode and KEK file are what this host pinned (vault_unlock() pins). */
static json_object *show_json(const struct vault_keys *k, const struct log_events *log)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	json_object_object_add(o, "mode", json_object_new_string(kek_mode_name(k->mode)));
	json_object_object_add(o, "kek_type", json_object_new_string(kek_type_name(k->kek->type)));
	json_object_object_add(o, "kek_gen", json_object_new_int64(k->gen));
	vj_add_hex(o, "kek_fingerprint", k->fp, KEK_FP_LEN);
	json_object_object_add(o, "kek_file", json_object_new_string(k->kek_file));
	json_object_object_add(o, "deks", json_object_new_int((int)k->ndeks));
	json_object_object_add(o, "current_dek", json_object_new_int(k->cur_dek));
	for (i = 0; i < k->ndeks; i++)
		if (k->dek_id[i] == k->cur_dek)
			json_object_object_add(o, "current_dek_sealed",
					       json_object_new_int64((int64_t)k->sealed[i]));
	json_object_object_add(o, "dek_budget", json_object_new_int64((int64_t)DEK_BUDGET));
	for (i = 0; i < log->n; i++) {
		const struct log_event *e = &log->ev[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "seq", json_object_new_int64((int64_t)e->seq));
		json_object_object_add(x, "time", json_object_new_int64(e->time));
		json_object_object_add(x, "event", json_object_new_string(e->event));
		json_object_object_add(x, "detail", json_object_new_string(e->detail));
		json_object_object_add(x, "authenticated", json_object_new_boolean(e->verified));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "activity", a);
	return o;
}

static void show_text(json_object *o)
{
	json_object *a = json_object_object_get(o, "activity");
	size_t i;

	printf("mode:        %s (%s)\n", json_object_get_string(json_object_object_get(o, "mode")),
	       json_object_get_string(json_object_object_get(o, "kek_type")));
	printf("generation:  %s\n", json_object_get_string(json_object_object_get(o, "kek_gen")));
	printf("fingerprint: %s\n", json_object_get_string(json_object_object_get(o, "kek_fingerprint")));
	printf("KEK file:    %s (pinned on this host)\n",
	       json_object_get_string(json_object_object_get(o, "kek_file")));
	printf("DEKs:        %s, current %s (%s of %s blobs sealed)\n",
	       json_object_get_string(json_object_object_get(o, "deks")),
	       json_object_get_string(json_object_object_get(o, "current_dek")),
	       json_object_get_string(json_object_object_get(o, "current_dek_sealed")),
	       json_object_get_string(json_object_object_get(o, "dek_budget")));
	printf("activity (authenticated chain):\n");
	for (i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *ev = "", *d = "";
		int64_t t = 0;
		char ts[32];

		vj_str(e, "event", &ev);
		vj_str(e, "detail", &d);
		vj_i64(e, "time", &t);
		format_time(t, ts, sizeof(ts));
		printf("  %s %-24s %s%s\n", ts, ev, d,
		       json_object_get_boolean(json_object_object_get(e, "authenticated")) ?
		       "" : "  [unauthenticated: older build]");
	}
}

/* Unlocks (the log key comes from the vault keys) and refuses to show a
 * log whose chain is broken: exit 5, one line naming the first fault. */
static int key_show(struct key_args *a)
{
	struct log_events log = { 0 };
	struct vault *v;
	char why[160];
	json_object *o;
	int r;

	r = cli_vault("key show", a->vault, 1, a->kek, &v);
	if (r)
		return r;
	r = vault_log_read(v, &log);
	if (r < 0) {
		vault_close(v);
		return fail("key show", r, "cannot read the activity log of %s", a->vault);
	}
	r = vault_log_verify(v, &log, why, sizeof(why));
	if (r < 0) {
		log_events_free(&log);
		vault_close(v);
		if (r != -EBADMSG)
			return fail("key show", r, "cannot check the activity log of %s", a->vault);
		fprintf(stderr, "cryptsnap key show: activity log of %s damaged or tampered: %s\n",
			a->vault, why);
		return EXIT_CORRUPT;
	}
	o = show_json(v->keys, &log);
	if (a->json)
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	else
		show_text(o);
	json_object_put(o);
	log_events_free(&log);
	vault_close(v);
	return EXIT_OK;
}

static int key_rotate(struct key_args *a)
{
	struct vault_job *job = NULL;
	char path[4096];
	struct vault *v;
	int r;

	r = cli_vault("key rotate", a->vault, 1, a->old_kek, &v);
	if (r)
		return r;
	r = vault_lock(v, VAULT_LOCK_EXCLUSIVE);
	if (r < 0) {
		r = r == -EBUSY ? cli_vault_busy("key rotate", v, VAULT_LOCK_EXCLUSIVE, "cannot lock vault")
				: fail("key rotate", r, "cannot lock vault");
		vault_close(v);
		return r;
	}
	job_start(v, "rotate", a->kek ? a->kek : "vault-managed", 0, &job);
	r = vault_rotate(v, a->kek, path, sizeof(path));
	job_finish(job, r, r ? strerror(-r) : NULL);
	vault_close(v);
	if (r == -EOPNOTSUPP) {
		fprintf(stderr, "cryptsnap key rotate: refused: a customer-managed vault "
			"is rotated only to a new customer key (--kek NEWFILE), never to a "
			"vault-managed key\n");
		return EXIT_KEY;
	}
	if (r == -ERANGE)
		return fail_kek("key rotate", r, a->kek);
	if (r == -EALREADY) {
		fprintf(stderr, "cryptsnap key rotate: the new KEK is the current KEK\n");
		return EXIT_USAGE;
	}
	if (r < 0)
		return fail("key rotate", r, "rotation failed (old KEK stays valid)");
	printf("KEK rotated; new KEK: %s\n", path);
	return EXIT_OK;
}

int cmd_key(int argc, char **argv)
{
	struct key_args a = { 0 };
	const char *sub = argc >= 2 ? argv[1] : "";
	int r;

	if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "escrow"))
		return cmd_key_escrow_disk(argc - 1, argv + 1);
	r = parse(argc - 1, argv + 1, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!strcmp(sub, "show"))
		return key_show(&a);
	if (!strcmp(sub, "rotate"))
		return key_rotate(&a);
	usage(stderr);
	return EXIT_USAGE;
}
