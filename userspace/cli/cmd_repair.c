// SPDX-License-Identifier: GPL-2.0
/* cryptsnap vault repair --vault VAULT [--kek FILE] : rebuilds the location
 * index from the packs and drops entries of lost packs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "vault/vault_repair.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap vault repair --vault VAULT [--kek FILE]\n"
		"\n"
		"Replaces damaged or missing index objects by re-indexing the packs no\n"
		"index lists (every blob authenticated), and drops index entries of packs\n"
		"that are gone so that the next backup stores those chunks again.  Names\n"
		"the points that lost data.  Exit status 5 when data stays lost.\n");
}

static void print_list(const char *what, const struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		printf("%s %s\n", what, l->names[i]);
}

static int report(const struct repair_report *rep)
{
	size_t i;

	print_list("replaced damaged index object", &rep->damaged_idx);
	print_list("missing pack", &rep->missing_packs);
	print_list("cannot re-index (pack format 1)", &rep->old_packs);
	print_list("damaged pack (re-indexed up to the damage)", &rep->bad_packs);
	printf("%llu packs re-indexed (%llu blobs), %llu index entries of missing packs dropped\n",
	       (unsigned long long)rep->packs_scanned,
	       (unsigned long long)rep->blobs_reindexed,
	       (unsigned long long)rep->entries_dropped);
	for (i = 0; i < rep->lost.n; i++) {
		char id[64], disk[80];
		unsigned long long n;

		if (sscanf(rep->lost.names[i], "%63s %79s %llu", id, disk, &n) == 3)
			printf("DAMAGED %s: %llu blobs were in missing packs; the next "
			       "backup of disk %s stores them again\n", id, n, disk);
	}
	if (rep->lost.n) {
		fprintf(stderr, "cryptsnap vault repair: %zu points lost data in "
			"missing packs (listed above)\n", rep->lost.n);
		return EXIT_CORRUPT;
	}
	if (rep->old_packs.n || rep->bad_packs.n) {
		fprintf(stderr, "cryptsnap vault repair: %zu packs could not be fully "
			"re-indexed (listed above)\n", rep->old_packs.n + rep->bad_packs.n);
		return EXIT_CORRUPT;
	}
	return EXIT_OK;
}

int cmd_vault_repair(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "kek", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *loc = NULL, *kek = NULL;
	struct repair_report rep;
	struct vault *v = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': loc = optarg; break;
		case 'k': kek = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = cli_vault("vault repair", loc, 1, kek, &v);
	if (r)
		return r;
	r = cli_catalogue_ensure("vault repair", v);
	if (r) {
		vault_close(v);
		return r;
	}
	r = vault_lock(v, VAULT_LOCK_EXCLUSIVE);
	if (r < 0) {
		r = r == -EBUSY ? cli_vault_busy("vault repair", v, VAULT_LOCK_EXCLUSIVE, "cannot lock vault")
				: fail("vault repair", r, "cannot lock vault");
		vault_close(v);
		return r;
	}
	r = vault_repair(v, &rep);
	vault_lock_release(v);
	vault_close(v);
	r = r < 0 ? fail("vault repair", r, "repair stopped (no index object was "
			 "removed before its replacement was written)") : report(&rep);
	repair_report_free(&rep);
	return r;
}
