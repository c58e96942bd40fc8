// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap lock list --vault VAULT [--json]
 * cryptsnap lock break --vault VAULT NAME
 *
 * And the two refusals every command shares when something holds a lock:
 * the host's per-disk lock (sys/disk_lock.h) and the vault's locks
 * (vault_lock).  A vault lock of another host is never guessed dead: the
 * refusal shows its host, pid and age, and an admin who knows that job is
 * gone breaks it by name.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/util.h"
#include "sys/disk_lock.h"
#include "sys/disk_state.h"

static void format_age(int64_t taken, char *out, size_t len)
{
	int64_t age = (int64_t)time(NULL) - taken;

	if (taken < 0)
		snprintf(out, len, "age unknown");
	else if (age < 0)
		snprintf(out, len, "taken in the future");
	else if (age < 120)
		snprintf(out, len, "taken %" PRId64 "s ago", age);
	else if (age < 7200)
		snprintf(out, len, "taken %" PRId64 "m ago", age / 60);
	else if (age < 172800)
		snprintf(out, len, "taken %" PRId64 "h ago", age / 3600);
	else
		snprintf(out, len, "taken %" PRId64 "d ago", age / 86400);
}

static const char *whose(const struct vault_lock_info *li)
{
	return li->stale ? "stale: its process is gone" :
	       li->local ? "its process runs here" : "another host";
}

int cli_vault_busy(const char *cmd, struct vault *v, int kind, const char *what)
{
	struct vault_lock_info li;
	char age[48];

	if (vault_lock_blocker(v, kind, &li) < 0)
		return fail(cmd, -EBUSY, "%s", what);
	format_age(li.time, age, sizeof(age));
	fprintf(stderr, "cryptsnap %s: %s: vault %s is locked by host %s pid %ld (%s, %s, %s); "
		"if that job is gone: cryptsnap lock break --vault %s %s\n", cmd, what,
		v->be->location, li.host, li.pid, li.exclusive ? "exclusive" : "shared",
		age, whose(&li), v->be->location, li.name);
	return EXIT_BUSY;
}

int cli_disk_lock(const char *cmd, const char *disk, int *fd)
{
	pid_t holder;
	int r = disk_lock(disk, fd, &holder);

	if (r == -EBUSY && holder)
		return fail_errno(cmd, 0, "disk %s is busy: pid %ld is running a backup, protect, "
				  "unprotect or key escrow of it; try again when it ends",
				  disk, (long)holder), EXIT_BUSY;
	if (r == -EBUSY)
		return fail_errno(cmd, 0, "disk %s is busy: another process holds its lock "
				  "(%s/disks/%s.lock); try again when it ends",
				  disk, disk_state_dir(), disk), EXIT_BUSY;
	if (r == -EPERM)
		return fail_errno(cmd, 0, "the lock file of disk %s is not a private regular file "
				  "of this user (%s/disks/%s.lock); refusing", disk,
				  disk_state_dir(), disk);
	if (r)
		return fail_errno(cmd, r, "cannot lock disk %s", disk);
	return EXIT_OK;
}

static int usage(FILE *f, int rc)
{
	if (f == stdout)
		printf("usage: cryptsnap lock list --vault VAULT [--json]\n"
		       "       cryptsnap lock break --vault VAULT NAME\n"
		       "\nLists the vault's locks with host, pid, kind and age, or removes one\n"
		       "(a lock of a job that is gone: a crashed or unreachable host).\n");
	else
		fprintf(f, "cryptsnap lock: usage: cryptsnap lock list|break --vault VAULT [--json] [NAME]\n");
	return rc;
}

static json_object *lock_json(const struct vault_lock_info *li)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(li->name));
	json_object_object_add(o, "host", json_object_new_string(li->host));
	json_object_object_add(o, "pid", json_object_new_int64(li->pid));
	json_object_object_add(o, "kind", json_object_new_string(li->exclusive ? "exclusive" : "shared"));
	json_object_object_add(o, "local", json_object_new_boolean(li->local));
	json_object_object_add(o, "stale", json_object_new_boolean(li->stale));
	json_object_object_add(o, "time", li->time < 0 ? NULL : json_object_new_int64(li->time));
	return o;
}

static int lock_list(struct vault *v, int json)
{
	struct vault_lock_info *a;
	size_t n, bad, i;
	char age[48];
	int r = vault_lock_list(v, &a, &n, &bad);

	if (r)
		return fail("lock list", r, "cannot list the locks of %s", v->be->location);
	if (json) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++)
			json_object_array_add(arr, lock_json(&a[i]));
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
		json_object_put(arr);
	} else {
		printf("%-60s %-24s %8s %-9s %s\n", "NAME", "HOST", "PID", "KIND", "AGE");
		for (i = 0; i < n; i++) {
			format_age(a[i].time, age, sizeof(age));
			printf("%-60s %-24s %8ld %-9s %s (%s)\n", a[i].name, a[i].host, a[i].pid,
			       a[i].exclusive ? "exclusive" : "shared", age, whose(&a[i]));
		}
		if (bad)
			printf("%zu object(s) under locks/ are not lock names: ignored\n", bad);
	}
	free(a);
	return EXIT_OK;
}

static int lock_break(struct vault *v, const char *name)
{
	struct vault_lock_info li;
	int r;

	if (vault_lock_name_parse(name, &li) < 0)
		return fail_errno("lock break", 0, "not a lock name (see 'cryptsnap lock list')"),
		       EXIT_USAGE;
	r = vault_lock_break(v, name);
	if (r == -ENOENT)
		return fail_errno("lock break", 0, "no lock %s in vault %s", name,
				  v->be->location), EXIT_NOTFOUND;
	if (r)
		return fail("lock break", r, "cannot remove lock %s", name);
	printf("broke lock %s (host %s pid %ld, %s)\n", name, li.host, li.pid,
	       li.exclusive ? "exclusive" : "shared");
	return EXIT_OK;
}

int cmd_lock(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *vault = NULL, *verb;
	struct vault *v = NULL;
	int c, json = 0, r, brk;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? usage(stderr, EXIT_USAGE) : usage(stdout, EXIT_OK);
	verb = argv[1];
	if (strcmp(verb, "list") && strcmp(verb, "break"))
		return usage(stderr, EXIT_USAGE);
	brk = !strcmp(verb, "break");
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vault = optarg; break;
		case 'j': json = 1; break;
		case 'h': return usage(stdout, EXIT_OK);
		default: return usage(stderr, EXIT_USAGE);
		}
	}
	if (optind != argc - brk || (brk && json))
		return usage(stderr, EXIT_USAGE);
	r = cli_vault(brk ? "lock break" : "lock list", vault, 0, NULL, &v);
	if (r)
		return r;
	r = brk ? lock_break(v, argv[optind]) : lock_list(v, json);
	vault_close(v);
	return r;
}
