// SPDX-License-Identifier: GPL-2.0
/*
 * Soft delete (vault/vault_softdel.h): cryptsnap undelete ID, cryptsnap
 * vault retention, and the grace period prune and points apply.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/util.h"
#include "vault/vault_softdel.h"

#define DAY 86400LL

int cli_softdel(const char *cmd, struct vault *v, const struct config_section *eff,
		int64_t *grace)
{
	struct softdel_settings s;
	int r;

	if (eff && (eff->set & CFG_DELETED_GRACE))
		v->grace_override = (int64_t)eff->deleted_grace * DAY;
	r = vault_softdel_settings(v, &s);
	if (r == -EPERM)
		return fail_errno(cmd, 0, "deleted-grace %u days in %s is shorter than "
				  "the vault's locked grace period of %lld days", eff->deleted_grace,
				  config_path(), (long long)(s.floor / DAY));
	if (r < 0)
		return fail(cmd, r, "cannot read the host's pin of the vault");
	*grace = s.grace;
	return EXIT_OK;
}

static void undelete_usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap undelete ID [--vault VAULT] [--kek FILE]\n"
		"\nBrings back a point prune deleted, before GC purges it.\n");
}

int cmd_undelete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "kek", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL, *kek = NULL, *id;
	struct vault *v = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'k': kek = optarg; break;
		case 'h': undelete_usage(stdout); return EXIT_OK;
		default: undelete_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		undelete_usage(stderr);
		return EXIT_USAGE;
	}
	id = argv[optind];
	r = cli_vault("undelete", vault, 1, kek, &v);
	if (r)
		return r;
	r = cli_catalogue_ensure("undelete", v);
	if (!r) {
		r = vault_lock(v, VAULT_LOCK_SHARED);
		if (r == -EBUSY)
			r = cli_vault_busy("undelete", v, VAULT_LOCK_SHARED, "cannot lock vault");
		else if (r < 0)
			r = fail("undelete", r, "cannot lock vault");
		else {
			r = vault_point_set_deleted(v, id, 0);
			vault_lock_release(v);
			if (r == -EALREADY)
				r = fail_errno("undelete", 0, "point %s is not deleted", id);
			else if (r == -ENOENT || r == -EINVAL) {
				fail_errno("undelete", 0, "no point %s (purged already?)", id);
				r = EXIT_NOTFOUND;
			}
			else if (r < 0)
				r = fail("undelete", r, "cannot undelete point %s", id);
			else
				printf("point %s undeleted\n", id);
		}
	}
	vault_close(v);
	return r;
}

static void retention_usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap vault retention [--vault VAULT] [--deleted-grace DAYS] [--lock]\n"
		"\n"
		"Shows or sets how long deleted points are kept before GC purges them\n"
		"(default 14 days) and the retention lock.  Once locked, the grace period\n"
		"can only grow and retain-until dates only be kept; the lock cannot be\n"
		"removed with this tool.\n"
		"  --deleted-grace DAYS  grace period of deleted points, 0 to 36500 days\n"
		"  --lock                set the retention lock (irreversible)\n"
		"  --kek FILE            KEK file instead of the recorded one\n");
}

int cmd_vault_retention(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "kek", required_argument, NULL, 'k' },
		{ "deleted-grace", required_argument, NULL, 'g' },
		{ "lock", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL, *kek = NULL;
	unsigned int days = 0;
	struct softdel_settings s;
	struct config cfg;
	struct config_section eff;
	struct vault *v = NULL;
	int c, r, set_grace = 0, lock = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'k': kek = optarg; break;
		case 'g':
			if (cli_uint("vault retention", "--deleted-grace", optarg, 0, 36500, &days))
				return EXIT_USAGE;
			set_grace = 1;
			break;
		case 'L': lock = 1; break;
		case 'h': retention_usage(stdout); return EXIT_OK;
		default: retention_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		retention_usage(stderr);
		return EXIT_USAGE;
	}
	r = cli_config("vault retention", NULL, &cfg, &eff);
	if (r)
		return r;
	r = cli_vault("vault retention", vault ? vault : eff.vault, 1, kek ? kek : eff.kek, &v);
	if (r)
		goto out;
	if (set_grace || lock) {
		r = vault_softdel_configure(v, set_grace, (int64_t)days * DAY, lock);
		if (r == -EPERM) {
			vault_softdel_settings(v, &s);
			r = fail_errno("vault retention", 0, "the vault's retention is locked: "
				       "the grace period cannot go below %lld days",
				       (long long)(s.floor / DAY));
			goto out;
		}
		if (r < 0) {
			r = fail("vault retention", r, "cannot change the vault's retention");
			goto out;
		}
	}
	r = vault_softdel_settings(v, &s);
	if (r < 0) {
		r = fail("vault retention", r, "cannot read the host's pin of the vault");
		goto out;
	}
	printf("deleted-grace %lld days\nretention-lock %s\n", (long long)(s.floor / DAY),
	       s.locked ? "on" : "off");
	r = EXIT_OK;
out:
	vault_close(v);
	config_free(&cfg);
	return r;
}
