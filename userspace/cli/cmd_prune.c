// SPDX-License-Identifier: GPL-2.0
/* cryptsnap prune --vault VAULT [--keep-*] : retention, then GC. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vault/vault_dek.h"
#include "vault/vault_gc.h"
#include "vault/vault_points.h"
#include "vault/vault_retention.h"
#include "vault/vault_rotate.h"
#include "vault/vault_softdel.h"

struct prune_args {
	const char *vault, *kek, *disk;
	struct retention_policy pol;
	int rules_given;		/* any --keep-* */
	const struct config *cfg;	/* rules from here, per disk (no --keep-*) */
	int dry_run, no_gc;
	int64_t now;
	int64_t grace;			/* of deleted points, this host's */
	size_t deleted;			/* already deleted, not evaluated */
};

struct point_info {
	char id[POINT_ID_MAX];
	char disk[DISK_NAME_MAX + 1];
	struct retention_item item;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap prune --vault VAULT [rules] [options]\n"
		"\n"
		"Deletes points no rule keeps (per disk), then collects garbage.  Without\n"
		"--keep-* options each disk's keep-* of the configuration file apply; a\n"
		"disk without rules loses no point.  A point is never deleted before its\n"
		"retain-until date.  A deleted point is kept for the vault's grace period\n"
		"(default 14 days; 'cryptsnap undelete' brings it back), then GC purges it.\n"
		"--vault and --kek default to the configuration's.\n"
		"  --keep-last N  --keep-daily N  --keep-weekly N  --keep-monthly N  --keep-yearly N\n"
		"  --disk NAME    only consider this disk's points\n"
		"  --dry-run      show what would be removed\n"
		"  --no-gc        skip garbage collection\n"
		"  --now DATE     evaluate rules and grace periods as of DATE (testing)\n"
		"  --kek FILE     KEK file instead of the recorded one\n");
}

/* More than any vault holds points; bounds the number, not the vault. */
#define PRUNE_RULE_MAX 1000000

static int parse(int argc, char **argv, struct prune_args *a)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "kek", required_argument, NULL, 'k' },
		{ "disk", required_argument, NULL, 'd' },
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-daily", required_argument, NULL, 'D' },
		{ "keep-weekly", required_argument, NULL, 'W' },
		{ "keep-monthly", required_argument, NULL, 'M' },
		{ "keep-yearly", required_argument, NULL, 'Y' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "no-gc", no_argument, NULL, 'G' },
		{ "now", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned int *rule = NULL;
	const char *rule_opt = NULL;
	int c;

	a->now = time(NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->vault = optarg; break;
		case 'k': a->kek = optarg; break;
		case 'd': a->disk = optarg; break;
		case 'l': rule = &a->pol.last; rule_opt = "--keep-last"; break;
		case 'D': rule = &a->pol.daily; rule_opt = "--keep-daily"; break;
		case 'W': rule = &a->pol.weekly; rule_opt = "--keep-weekly"; break;
		case 'M': rule = &a->pol.monthly; rule_opt = "--keep-monthly"; break;
		case 'Y': rule = &a->pol.yearly; rule_opt = "--keep-yearly"; break;
		case 'n': a->dry_run = 1; break;
		case 'G': a->no_gc = 1; break;
		case 'N':
			if (parse_date(optarg, &a->now) < 0)
				return fail_errno("prune", 0, "bad --now '%s' (YYYY-MM-DD, "
						  "YYYY-MM-DDTHH:MM:SS or @SECONDS)", optarg), EXIT_USAGE;
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
		a->rules_given |= !!strchr("lDWMY", c);
		/* A rule given twice: the last one counts, and each is checked. */
		if (rule && cli_uint("prune", rule_opt, optarg, 0, PRUNE_RULE_MAX, rule))
			return EXIT_USAGE;
		rule = NULL;
	}
	if (optind != argc)
		return fail_errno("prune", 0, "unexpected argument '%s'", argv[optind]), EXIT_USAGE;
	return EXIT_OK;
}

struct point_list {
	const char *disk;	/* NULL: every disk */
	struct point_info *p;
	size_t n, deleted;
};

static int add_point(struct vault *v, struct manifest *m, void *arg)
{
	struct point_list *l = arg;
	struct point_info *p;

	if (l->disk && strcmp(l->disk, m->disk))
		return 0;
	/* Already deleted: no rule counts it, GC decides when it goes. */
	if (m->deleted) {
		l->deleted++;
		return 0;
	}
	p = realloc(l->p, (l->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->p = p;
	p = &l->p[l->n++];
	snprintf(p->id, sizeof(p->id), "%s", m->id);
	snprintf(p->disk, sizeof(p->disk), "%s", m->disk);
	p->item = (struct retention_item){ .created = m->created,
					   .retain_until = m->retain_until };
	return 0;
}

/* Any point that does not load stops prune, one deleted meanwhile too. */
static int load_points(struct vault *v, const char *disk, struct point_info **out,
		       size_t *n, size_t *deleted)
{
	struct point_list l = { .disk = disk };
	char bad[POINT_ID_MAX] = "";
	int r = vault_point_for_each(v, 0, add_point, &l, bad);

	if (bad[0])
		fail("prune", r, "point %s unreadable; prune refuses to guess", bad);
	*out = l.p;
	*n = l.n;
	*deleted = l.deleted;
	return r;
}

static int config_has_rules(const struct config *c)
{
	const unsigned int keep = CFG_KEEP_LAST | CFG_KEEP_DAILY | CFG_KEEP_WEEKLY |
				  CFG_KEEP_MONTHLY | CFG_KEEP_YEARLY;
	size_t i;

	for (i = 0; i < c->ndisks; i++)
		if (c->disks[i].set & keep)
			return 1;
	return !!(c->defaults.set & keep);
}

/* The command line's rules, else the disk's in the configuration. */
static void policy_of(const struct prune_args *a, const char *disk, struct retention_policy *pol)
{
	struct config_section e;

	if (!a->cfg) {
		*pol = a->pol;
		return;
	}
	config_for_disk(a->cfg, disk, &e);
	*pol = (struct retention_policy){ .last = e.keep_last, .daily = e.keep_daily,
					  .weekly = e.keep_weekly, .monthly = e.keep_monthly,
					  .yearly = e.keep_yearly };
}

/* Applies each disk's policy to its points; a disk without rules keeps all. */
static void evaluate(const struct prune_args *a, struct point_info *p, size_t n)
{
	struct retention_item *items = calloc(n ? n : 1, sizeof(*items));
	struct retention_policy pol;
	size_t i, j, k;
	char *done = calloc(n ? n : 1, 1);

	for (i = 0; items && done && i < n; i++) {
		if (done[i])
			continue;
		for (j = i, k = 0; j < n; j++)
			if (!strcmp(p[j].disk, p[i].disk)) {
				items[k] = p[j].item;
				items[k++].id = p[j].id;	/* ties: time, then id */
			}
		policy_of(a, p[i].disk, &pol);
		if (retention_policy_empty(&pol))
			for (j = 0; j < k; j++)
				items[j].keep = KEEP_LAST;
		else
			retention_apply(&pol, items, k, a->now);
		for (j = i, k = 0; j < n; j++)
			if (!strcmp(p[j].disk, p[i].disk)) {
				p[j].item.keep = items[k++].keep;
				done[j] = 1;
			}
	}
	if (!items || !done)
		for (i = 0; i < n; i++)
			p[i].item.keep = KEEP_LAST;
	free(items);
	free(done);
}

static int remove_points(struct prune_args *a, struct vault *v)
{
	struct point_info *p = NULL;
	size_t n, i, removed = 0;
	char until[32];
	int r;

	r = load_points(v, a->disk, &p, &n, &a->deleted);
	if (r < 0) {
		free(p);
		return exit_code(r);
	}
	evaluate(a, p, n);
	for (i = 0; i < n; i++) {
		if (p[i].item.keep) {
			printf("keep    %s %s%s\n", p[i].id, p[i].disk,
			       p[i].item.keep & KEEP_RETAIN ? " (retain-until)" : "");
			continue;
		}
		printf("%s %s %s\n", a->dry_run ? "would remove" : "remove ", p[i].id, p[i].disk);
		if (a->dry_run)
			continue;
		r = vault_point_set_deleted(v, p[i].id, time(NULL));
		if (!r)
			removed++;
		else if (r != -EALREADY && r != -ENOENT)
			fail("prune", r, "cannot delete point %s", p[i].id);
	}
	/* Removed = deleted: kept whole for the grace period, then purged. */
	format_time(time(NULL) + a->grace, until, sizeof(until));
	printf("%zu points removed (deleted: 'cryptsnap undelete ID' until GC purges them "
	       "after %s; %zu deleted earlier)\n", removed, until, a->deleted);
	if (!a->dry_run)
		log_event(LOG_INFO, "prune finished: disk=%s points=%zu removed=%zu result=ok",
			  a->disk ? a->disk : "*", n, removed);
	free(p);
	return EXIT_OK;
}

static int collect(struct vault *v, int64_t now)
{
	struct gc_stats st;
	unsigned int rolled;
	char fr[32];
	int r;

	r = vault_lock(v, VAULT_LOCK_EXCLUSIVE);
	if (r == -EBUSY) {
		struct vault_lock_info li;

		if (vault_lock_blocker(v, VAULT_LOCK_EXCLUSIVE, &li))
			printf("garbage collection deferred: another job holds the vault\n");
		else
			printf("garbage collection deferred: another job holds the vault "
			       "(host %s pid %ld, %s lock %s; see 'cryptsnap lock list')\n",
			       li.host, li.pid, li.exclusive ? "exclusive" : "shared", li.name);
		return EXIT_OK;
	}
	if (r < 0)
		return fail("prune", r, "cannot lock vault");
	r = vault_rotate_recover(v);
	/* Under the exclusive lock: count DEK use, replace a worn DEK. */
	if (!r)
		r = vault_dek_maintain(v, 0, &rolled);
	if (!r)
		r = vault_gc_purge_at(v, time(NULL), now, &st);
	vault_lock_release(v);
	if (r < 0 && st.why[0])
		return fail("prune", r, "garbage collection refused, nothing deleted: %s",
			    st.why);
	if (r < 0)
		return fail("prune", r, "garbage collection failed (nothing deleted "
			    "that a point needs)");
	if (rolled)
		printf("DEK use budget reached: new DEK %u\n", rolled);
	format_bytes(st.bytes_freed, fr, sizeof(fr));
	printf("gc: %llu points, %llu live blobs, %llu dead blobs, %llu packs kept, "
	       "%llu young packs kept, %llu packs deleted, %s freed\n",
	       (unsigned long long)st.points, (unsigned long long)st.blobs_live,
	       (unsigned long long)st.blobs_dead, (unsigned long long)st.packs_kept,
	       (unsigned long long)st.packs_young,
	       (unsigned long long)st.packs_deleted, fr);
	if (st.points_deleted || st.points_purged)
		printf("gc: %llu deleted points kept in their grace period, %llu purged\n",
		       (unsigned long long)st.points_deleted,
		       (unsigned long long)st.points_purged);
	if (st.blobs_lost)
		printf("gc: %llu blobs kept points need are in no pack (lost; see "
		       "'cryptsnap verify')\n", (unsigned long long)st.blobs_lost);
	return EXIT_OK;
}

int cmd_prune(int argc, char **argv)
{
	struct prune_args a = { 0 };
	struct config cfg;
	struct config_section eff;
	struct vault *v = NULL;
	int r;

	r = parse(argc, argv, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = cli_config("prune", a.disk, &cfg, &eff);
	if (r)
		return r;
	a.vault = a.vault ? a.vault : eff.vault;
	a.kek = a.kek ? a.kek : eff.kek;
	if (!a.rules_given && cfg.found) {
		a.cfg = &cfg;
		if (config_has_rules(&cfg))
			printf("rules from %s\n", cfg.path);
	}
	r = cli_vault("prune", a.vault, 1, a.kek, &v);
	if (r)
		goto out;
	r = cli_softdel("prune", v, &eff, &a.grace);
	if (r)
		goto out;
	r = a.dry_run ? EXIT_OK : cli_catalogue_ensure("prune", v);
	if (r)
		goto out;
	r = vault_lock(v, VAULT_LOCK_SHARED);
	if (r < 0) {
		r = r == -EBUSY ? cli_vault_busy("prune", v, VAULT_LOCK_SHARED, "cannot lock vault")
				: fail("prune", r, "cannot lock vault");
		goto out;
	}
	r = remove_points(&a, v);
	vault_lock_release(v);
	if (!r && !a.dry_run && !a.no_gc)
		r = collect(v, a.now);
out:
	vault_close(v);
	config_free(&cfg);
	return r;
}
