// SPDX-License-Identifier: GPL-2.0
/*
 * Timer links and drop-ins of `cryptsnap policy apply` (units.h), the
 * crypttab look-up and the two systemctl calls it makes on a live system.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/names.h"
#include "lib/util.h"
#include "sys/units.h"

#define PREFIX		"cryptsnap-backup@"
#define SUFFIX		".timer"
#define DROPIN_SUFFIX	".timer.d"

int units_root_path(const char *root, const char *path, char *out, size_t len)
{
	size_t n = strlen(root);
	int w;

	while (n && root[n - 1] == '/')
		n--;
	w = snprintf(out, len, "%.*s%s", (int)n, root, path);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int units_template(const char *root, char *out, size_t len)
{
	static const char *const dirs[] = {
		"/etc/systemd/system", "/usr/local/lib/systemd/system",
		"/usr/lib/systemd/system", "/lib/systemd/system",
	};
	char p[UNITS_PATH_MAX], full[UNITS_PATH_MAX];
	size_t i;
	int r;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/" UNITS_TEMPLATE, dirs[i]);
		r = units_root_path(root, p, full, sizeof(full));
		if (r)
			return r;
		if (access(full, F_OK) == 0) {
			r = snprintf(out, len, "%s", p);
			return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
		}
	}
	return -ENOENT;
}

/* dir/fmt... into out. */
__attribute__((format(printf, 3, 4)))
static int path_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_0755(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* mkdir -p with 0755 directories (units are read by everyone). */
static int mkdir_p_0755(const char *path)
{
	char p[UNITS_PATH_MAX];
	char *s;
	int r = path_fmt(p, sizeof(p), "%s", path);

	for (s = p + 1; !r && (s = strchr(s, '/')); s++) {
		*s = 0;
		r = mkdir_0755(p);
		*s = '/';
	}
	return r ? r : mkdir_0755(p);
}

/* 1 when path holds exactly text. */
static int same_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 2);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len + 1);	/* one more: longer is different */
		close(fd);
	}
	n = n == (ssize_t)len && !memcmp(buf, text, len);
	free(buf);
	return (int)n;
}

/* Writes text to path (0644) through path.tmp, fsync and rename. */
static int put_text(const char *path, const char *text)
{
	char tmp[UNITS_PATH_MAX];
	int fd, r;

	r = path_fmt(tmp, sizeof(tmp), "%s.tmp", path);
	if (r)
		return r;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_full(fd, text, strlen(text));
	if (!r && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* Points the symlink path at target, through path.tmp and rename. */
static int put_link(const char *path, const char *target, int *changed)
{
	char cur[UNITS_PATH_MAX], tmp[UNITS_PATH_MAX];
	ssize_t n = readlink(path, cur, sizeof(cur) - 1);
	int r;

	if (n >= 0) {
		cur[n] = 0;
		if (!strcmp(cur, target))
			return 0;
	}
	r = path_fmt(tmp, sizeof(tmp), "%s.tmp", path);
	if (r)
		return r;
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	*changed = 1;
	return 0;
}

static char *dropin_text(const char *calendar, const char *source)
{
	char *s;

	/* RandomizedDelaySec: a few minutes' spread so the disks of hosts
	 * sharing storage do not all start at the same second; kept stable
	 * per timer, so "at 02:00" stays near 02:00 every day. */
	if (asprintf(&s,
		     "# Written by `cryptsnap policy apply` from %s;\n"
		     "# the next apply replaces or removes it: change the configuration,\n"
		     "# not this file.\n"
		     "[Timer]\n"
		     "OnCalendar=\n"
		     "OnCalendar=%s\n"
		     "Persistent=true\n"
		     "RandomizedDelaySec=5min\n"
		     "FixedRandomDelay=true\n", source, calendar) < 0)
		return NULL;
	return s;
}

int units_timer_set(const char *unit_dir, const char *disk, const char *template,
		    const char *calendar, const char *source, int *changed)
{
	char dir[UNITS_PATH_MAX], path[UNITS_PATH_MAX], *text;
	int r;

	*changed = 0;
	if (!disk_name_valid(disk) || strchr(calendar, '\n') || strchr(source, '\n'))
		return -EINVAL;
	r = path_fmt(dir, sizeof(dir), "%s/" PREFIX "%s" DROPIN_SUFFIX, unit_dir, disk);
	if (!r)
		r = path_fmt(path, sizeof(path), "%s/" UNITS_DROPIN, dir);
	if (r)
		return r;
	text = dropin_text(calendar, source);
	if (!text)
		return -ENOMEM;
	r = mkdir_p_0755(dir);
	if (!r && !same_text(path, text)) {
		r = put_text(path, text);
		*changed = 1;
	}
	free(text);
	if (r)
		return r;
	r = path_fmt(dir, sizeof(dir), "%s/" UNITS_WANTS, unit_dir);
	if (!r)
		r = path_fmt(path, sizeof(path), "%s/" PREFIX "%s" SUFFIX, dir, disk);
	if (!r)
		r = mkdir_0755(dir);
	return r ? r : put_link(path, template, changed);
}

static int unlink_opt(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int units_timer_remove(const char *unit_dir, const char *disk)
{
	char dir[UNITS_PATH_MAX], path[UNITS_PATH_MAX];
	int r;

	if (!disk_name_valid(disk))
		return -EINVAL;
	r = path_fmt(path, sizeof(path), "%s/" UNITS_WANTS "/" PREFIX "%s" SUFFIX, unit_dir, disk);
	if (!r)
		r = unlink_opt(path);
	if (!r)
		r = path_fmt(dir, sizeof(dir), "%s/" PREFIX "%s" DROPIN_SUFFIX, unit_dir, disk);
	if (!r)
		r = path_fmt(path, sizeof(path), "%s/" UNITS_DROPIN, dir);
	if (!r)
		r = unlink_opt(path);
	if (!r && rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		r = -errno;
	return r;
}

/* The disk of entry name "cryptsnap-backup@DISK<suffix>", or 0. */
static int instance_of(const char *name, const char *suffix, char *disk, size_t len)
{
	size_t n = strlen(name), pl = strlen(PREFIX), sl = strlen(suffix);

	if (n <= pl + sl || strncmp(name, PREFIX, pl) || strcmp(name + n - sl, suffix) ||
	    n - pl - sl >= len)
		return 0;
	memcpy(disk, name + pl, n - pl - sl);
	disk[n - pl - sl] = 0;
	return disk_name_valid(disk);
}

/* Calls fn for each entry of dir naming an instance with suffix; with
 * dropin, only directories that hold our drop-in. */
static int scan(const char *dir, const char *suffix, int dropin,
		int (*fn)(const char *disk, void *arg), void *arg)
{
	char disk[DISK_NAME_MAX + 1], p[UNITS_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!r && (e = readdir(d))) {
		if (!instance_of(e->d_name, suffix, disk, sizeof(disk)))
			continue;
		if (dropin && (path_fmt(p, sizeof(p), "%s/%s/" UNITS_DROPIN, dir, e->d_name) ||
			       access(p, F_OK)))
			continue;
		r = fn(disk, arg);
	}
	closedir(d);
	return r;
}

struct each {
	int (*fn)(const char *disk, void *arg);
	void *arg;
	const char *wants;
};

/* A drop-in's disk, unless its link exists too (the first scan had it). */
static int dropin_only(const char *disk, void *arg)
{
	struct each *e = arg;
	char p[UNITS_PATH_MAX];
	struct stat st;

	if (!path_fmt(p, sizeof(p), "%s/" PREFIX "%s" SUFFIX, e->wants, disk) &&
	    lstat(p, &st) == 0)
		return 0;
	return e->fn(disk, e->arg);
}

int units_timer_each(const char *unit_dir, int (*fn)(const char *disk, void *arg), void *arg)
{
	char wants[UNITS_PATH_MAX];
	struct each e = { fn, arg, wants };
	int r = path_fmt(wants, sizeof(wants), "%s/" UNITS_WANTS, unit_dir);

	if (!r)
		r = scan(wants, SUFFIX, 0, fn, arg);
	return r ? r : scan(unit_dir, DROPIN_SUFFIX, 1, dropin_only, &e);
}

static int stamp_path(const char *root, const char *disk, char *dir, char *path)
{
	int r;

	if (!disk_name_valid(disk))
		return -EINVAL;
	r = units_root_path(root, UNITS_STAMP_DIR, dir, UNITS_PATH_MAX);
	return r ? r : path_fmt(path, UNITS_PATH_MAX, "%s/stamp-" PREFIX "%s" SUFFIX, dir, disk);
}

int units_timer_stamp_remove(const char *root, const char *disk)
{
	char dir[UNITS_PATH_MAX], path[UNITS_PATH_MAX];
	int r = stamp_path(root, disk, dir, path);

	return r ? r : unlink_opt(path);
}

int units_timer_stamp(const char *root, const char *disk)
{
	char dir[UNITS_PATH_MAX], path[UNITS_PATH_MAX];
	int fd, r;

	r = stamp_path(root, disk, dir, path);
	if (r)
		return r;
	if (!access(path, F_OK))
		return 0;	/* systemd's own record of the last run: keep it */
	r = mkdir_p_0755(dir);
	if (r)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	close(fd);
	return 1;
}

int units_crypttab_has(const char *root, const char *name)
{
	char path[UNITS_PATH_MAX], *line = NULL, *s;
	size_t cap = 0, n = strlen(name);
	int r = units_root_path(root, "/etc/crypttab", path, sizeof(path)), found = 0;
	FILE *f;

	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && getline(&line, &cap, f) >= 0) {
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		found = !strncmp(s, name, n) && (s[n] == ' ' || s[n] == '\t' ||
						 s[n] == '\n' || !s[n]);
	}
	r = ferror(f) ? -EIO : found;
	free(line);
	fclose(f);
	return r;
}

int units_systemd_booted(void)
{
	struct stat st;

	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

int units_systemctl(const char *verb, const char *unit)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("systemctl", "systemctl", verb, unit, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
