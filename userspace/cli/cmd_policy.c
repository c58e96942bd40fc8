// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap policy apply [--root DIR] [--unit-dir DIR] [--config FILE]:
 * makes the systemd timers match the configuration's schedules.
 *
 * The disks: every [disk "NAME"] section, and on the running system (root
 * "/") every protected disk, each with its schedule over [defaults].  A
 * disk scheduled daily or weekly gets cryptsnap-backup@NAME.timer enabled
 * with a drop-in of its OnCalendar=; a timer of ours for any other disk
 * (manual, unset, no longer configured) is removed.  On the running system
 * booted with systemd, systemd is reloaded and the timers (re)started or
 * stopped; under another --root only files change.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/config.h"
#include "lib/names.h"
#include "sys/disk_state.h"
#include "sys/units.h"

#define CMD "policy"

struct policy {
	const char *root, *config;
	char unit_dir[UNITS_PATH_MAX];
	char conf_path[UNITS_PATH_MAX];
	char template[UNITS_PATH_MAX];
	int live;			/* root is "/" */
	struct config cfg;
	/* The disks looked at, and which of them got a timer. */
	char (*disks)[DISK_NAME_MAX + 1];
	unsigned char *timed, *changed;
	size_t n;
	int warnings;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap policy apply [--root DIR] [--unit-dir DIR] [--config FILE]\n"
		"\n"
		"Makes the systemd timers match the schedules of the configuration: per\n"
		"disk scheduled daily or weekly, cryptsnap-backup@DISK.timer enabled with\n"
		"a drop-in of its OnCalendar=; timers of disks no longer scheduled are\n"
		"removed.  On the running system, systemd is reloaded and the timers\n"
		"started or stopped.\n"
		"  --root DIR       the system to change (default /): its configuration,\n"
		"                   /etc/crypttab and unit directory\n"
		"  --unit-dir DIR   where the links and drop-ins go (default\n"
		"                   ROOT/etc/systemd/system)\n"
		"  --config FILE    the configuration (default $CRYPTSNAP_CONFIG, else\n"
		"                   ROOT" CONFIG_DEFAULT_PATH ")\n");
}

static int parse(int argc, char **argv, struct policy *p)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "unit-dir", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *unit_dir = NULL, *env = getenv("CRYPTSNAP_CONFIG");
	int o;

	p->root = "/";
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'r': p->root = optarg; break;
		case 'u': unit_dir = optarg; break;
		case 'c': p->config = optarg; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || !*p->root || (unit_dir && !*unit_dir)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	p->live = p->root[strspn(p->root, "/")] == 0;
	if (unit_dir)
		snprintf(p->unit_dir, sizeof(p->unit_dir), "%s", unit_dir);
	else if (units_root_path(p->root, "/etc/systemd/system", p->unit_dir, sizeof(p->unit_dir)))
		goto toolong;
	if (!p->config && env && *env)
		p->config = env;
	if (p->config)
		snprintf(p->conf_path, sizeof(p->conf_path), "%s", p->config);
	else if (units_root_path(p->root, CONFIG_DEFAULT_PATH, p->conf_path, sizeof(p->conf_path)))
		goto toolong;
	return EXIT_OK;
toolong:
	fprintf(stderr, "cryptsnap " CMD ": --root %s: path too long\n", p->root);
	return EXIT_USAGE;
}

/* A named file must exist; the default one may be absent (no disks). */
static int load_config(struct policy *p)
{
	size_t i;
	int r = config_load(p->conf_path, p->config != NULL, &p->cfg);

	if (!r)
		return EXIT_OK;
	for (i = 0; i < p->cfg.nerrors; i++)
		fprintf(stderr, "cryptsnap " CMD ": %s\n", p->cfg.errors[i]);
	return r == -ENOENT ? EXIT_NOTFOUND : r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

static int add_disk(const char *name, struct policy *p)
{
	size_t i;
	void *d;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->disks[i], name))
			return 0;
	d = realloc(p->disks, (p->n + 1) * sizeof(*p->disks));
	if (!d)
		return -ENOMEM;
	p->disks = d;
	snprintf(p->disks[p->n++], sizeof(*p->disks), "%s", name);
	return 0;
}

static int add_protected(const struct disk_state *d, void *arg)
{
	return add_disk(d->name, arg);
}

/* The configured disks, then (on the running system) the protected ones. */
static int collect(struct policy *p)
{
	size_t i;
	int r = 0;

	for (i = 0; !r && i < p->cfg.ndisks; i++)
		r = add_disk(p->cfg.disks[i].name, p);
	if (!r && p->live)
		r = disk_state_each(add_protected, p);
	if (r == -ENOENT)
		r = 0;		/* nothing protected yet */
	if (!r) {
		p->timed = calloc(p->n + 1, 1);
		p->changed = calloc(p->n + 1, 1);
		if (!p->timed || !p->changed)
			r = -ENOMEM;
	}
	return r ? fail_errno(CMD, r, "cannot list the disks") : EXIT_OK;
}

/* The dm-crypt mapping of a disk: the one it was protected under, else a
 * mapping of its name (protect's default). */
static void warn_crypttab(struct policy *p, const char *disk)
{
	struct disk_state d;
	char tab[UNITS_PATH_MAX];
	const char *map = disk;
	int r;

	if (p->live && !disk_state_load(disk, &d) && d.crypt[0])
		map = d.crypt;
	r = units_crypttab_has(p->root, map);
	if (r == 1)
		return;
	units_root_path(p->root, "/etc/crypttab", tab, sizeof(tab));
	p->warnings++;
	if (r == 0 || r == -ENOENT)
		fprintf(stderr, "cryptsnap " CMD ": warning: disk %s: mapping %s is not in %s, "
			"so nothing opens it at boot\n", disk, map, tab);
	else
		fprintf(stderr, "cryptsnap " CMD ": warning: disk %s: cannot read %s: %s\n",
			disk, tab, strerror(-r));
}

static int schedule_disk(struct policy *p, size_t i)
{
	const char *disk = p->disks[i];
	char cal[CONFIG_CALENDAR_MAX], source[UNITS_PATH_MAX + 64];
	struct config_section eff;
	int r, changed;

	config_for_disk(&p->cfg, disk, &eff);
	r = config_schedule_calendar(&eff.schedule, cal, sizeof(cal));
	if (r == -ENOENT)
		return EXIT_OK;		/* manual or unset: no timer */
	if (r)
		return fail_errno(CMD, r, "disk %s: cannot turn its schedule into a calendar", disk);
	snprintf(source, sizeof(source), "%s, disk %s", p->conf_path, disk);
	r = units_timer_set(p->unit_dir, disk, p->template, cal, source, &changed);
	if (r)
		return fail_errno(CMD, r, "disk %s: cannot write its timer under %s", disk,
				  p->unit_dir);
	/* Before systemd sees the timer: a first apply starts with the next
	 * scheduled time, not a backup now (units_timer_stamp). */
	r = units_timer_stamp(p->root, disk);
	if (r < 0)
		return fail_errno(CMD, r, "disk %s: cannot write its timer stamp under %s%s", disk,
				  p->root, UNITS_STAMP_DIR);
	p->timed[i] = 1;
	p->changed[i] = (unsigned char)changed;
	printf("disk %s: cryptsnap-backup@%s.timer OnCalendar=%s (%s)\n", disk, disk, cal,
	       changed ? "written" : "unchanged");
	warn_crypttab(p, disk);
	return EXIT_OK;
}

struct stale {
	struct policy *p;
	char (*names)[DISK_NAME_MAX + 1];
	size_t n;
};

static int note_stale(const char *disk, void *arg)
{
	struct stale *s = arg;
	size_t i;
	void *d;

	for (i = 0; i < s->p->n; i++)
		if (s->p->timed[i] && !strcmp(s->p->disks[i], disk))
			return 0;
	d = realloc(s->names, (s->n + 1) * sizeof(*s->names));
	if (!d)
		return -ENOMEM;
	s->names = d;
	snprintf(s->names[s->n++], sizeof(*s->names), "%s", disk);
	return 0;
}

/* Removes the timers of disks not scheduled now; stops them when live. */
static int remove_stale(struct policy *p, int reload)
{
	struct stale s = { p, NULL, 0 };
	char unit[DISK_NAME_MAX + 32];
	size_t i;
	int r = units_timer_each(p->unit_dir, note_stale, &s), ret = EXIT_OK;

	if (r) {
		free(s.names);
		return fail_errno(CMD, r, "cannot list the timers under %s", p->unit_dir);
	}
	for (i = 0; i < s.n; i++) {
		r = units_timer_remove(p->unit_dir, s.names[i]);
		if (!r)
			r = units_timer_stamp_remove(p->root, s.names[i]);
		if (r) {
			ret = fail_errno(CMD, r, "disk %s: cannot remove its timer", s.names[i]);
			continue;
		}
		printf("disk %s: cryptsnap-backup@%s.timer removed (no schedule)\n", s.names[i],
		       s.names[i]);
		snprintf(unit, sizeof(unit), "cryptsnap-backup@%s.timer", s.names[i]);
		if (reload && units_systemctl("stop", unit))
			ret = fail_errno(CMD, 0, "systemctl stop %s failed", unit);
	}
	free(s.names);
	return ret;
}

/* After the files: systemd reads them, changed timers restart (a new
 * OnCalendar), the others are started if they were not. */
static int reload(struct policy *p)
{
	char unit[DISK_NAME_MAX + 32];
	size_t i;
	int r = units_systemctl("daemon-reload", NULL), ret = EXIT_OK;

	if (r)
		return fail_errno(CMD, 0, "systemctl daemon-reload failed");
	for (i = 0; i < p->n; i++) {
		if (!p->timed[i])
			continue;
		snprintf(unit, sizeof(unit), "cryptsnap-backup@%s.timer", p->disks[i]);
		if (units_systemctl(p->changed[i] ? "restart" : "start", unit))
			ret = fail_errno(CMD, 0, "systemctl %s %s failed",
					 p->changed[i] ? "restart" : "start", unit);
	}
	return ret;
}

static int apply(struct policy *p)
{
	int r = load_config(p), live;
	size_t i, ntimed = 0;

	if (r)
		return r;
	r = collect(p);
	if (r)
		return r;
	r = units_template(p->root, p->template, sizeof(p->template));
	if (r == -ENOENT) {
		fprintf(stderr, "cryptsnap " CMD ": " UNITS_TEMPLATE " is not installed under %s "
			"(make install)\n", p->root);
		return EXIT_NOTFOUND;
	}
	if (r)
		return fail_errno(CMD, r, "cannot look for " UNITS_TEMPLATE);
	for (i = 0; i < p->n; i++) {
		r = schedule_disk(p, i);
		if (r)
			return r;
		ntimed += p->timed[i];
	}
	live = p->live && units_systemd_booted();
	r = remove_stale(p, live);
	if (!r && live)
		r = reload(p);
	else if (!r)
		printf("%zu timer%s under %s; systemd not reloaded (%s)\n", ntimed,
		       ntimed == 1 ? "" : "s", p->unit_dir,
		       p->live ? "not booted with systemd" : "not the running system");
	return r;
}

int cmd_policy(int argc, char **argv)
{
	struct policy p = { 0 };
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "apply")) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = parse(argc - 1, argv + 1, &p);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = apply(&p);
	config_free(&p.cfg);
	free(p.disks);
	free(p.timed);
	free(p.changed);
	return r;
}
