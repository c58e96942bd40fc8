// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap restore --point ID --files PATH... --to DIR
 *
 * The point is mounted (cli/mount.h) at a private directory, each PATH
 * (from the filesystem's root) is copied to DIR/PATH with its mode, owner
 * (as root) and times, and the point is unmounted again.  Directories are
 * copied whole; an existing target file is never overwritten.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "cli/mount.h"
#include "cli/restore_files.h"
#include "lib/fsutil.h"
#include "lib/util.h"

#define COPY_BUF	(1U << 20)

static int copy_tree(int sfd, int dfd, const char *name, const char *shown);

static void keep_attrs(int dfd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (geteuid() == 0)
		fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(st->st_mode))
		fchmodat(dfd, name, st->st_mode & 07777, 0);
	utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_data(int in, int out)
{
	uint8_t *buf = malloc(COPY_BUF);
	ssize_t n;
	int r = buf ? 0 : -ENOMEM;

	while (!r && (n = read(in, buf, COPY_BUF)) != 0) {
		if (n < 0)
			r = errno == EINTR ? 0 : -errno;
		else
			r = write_full(out, buf, (size_t)n);
	}
	free(buf);
	return r;
}

static int copy_file(int sfd, int dfd, const char *name)
{
	int in, out, r;

	in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	r = copy_data(in, out);
	if (!r && fsync(out) < 0)
		r = -errno;
	close(in);
	close(out);
	return r;
}

static int copy_link(int sfd, int dfd, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = 0;
	return symlinkat(target, dfd, name) < 0 ? -errno : 0;
}

static int copy_dir(int sfd, int dfd, const char *name, const char *shown)
{
	int s, d, r = 0;
	struct dirent *e;
	DIR *dir;

	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dir = s >= 0 ? fdopendir(s) : NULL;
	if (!dir || d < 0) {
		r = -errno;
		if (!dir && s >= 0)
			close(s);
		if (d >= 0)
			close(d);
		if (dir)
			closedir(dir);
		return r;
	}
	while (!r && (e = readdir(dir))) {
		char sub[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", shown, e->d_name);
		r = copy_tree(dirfd(dir), d, e->d_name, sub);
	}
	closedir(dir);
	close(d);
	return r;
}

/* name in sfd to name in dfd, attributes last (a directory's after its
 * entries, so its mtime stays). */
static int copy_tree(int sfd, int dfd, const char *name, const char *shown)
{
	struct stat st;
	int r;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		fail_errno("restore", -errno, "%s", shown);
		return -EIO;
	}
	if (S_ISREG(st.st_mode))
		r = copy_file(sfd, dfd, name);
	else if (S_ISDIR(st.st_mode))
		return copy_dir(sfd, dfd, name, shown) ?: (keep_attrs(dfd, name, &st), 0);
	else if (S_ISLNK(st.st_mode))
		r = copy_link(sfd, dfd, name);
	else {
		fprintf(stderr, "cryptsnap restore: %s: not a file, directory or symlink; "
			"skipped\n", shown);
		return 0;
	}
	if (r == -EEXIST)
		fprintf(stderr, "cryptsnap restore: %s already exists in the target; not "
			"overwritten\n", shown);
	else if (r < 0)
		fprintf(stderr, "cryptsnap restore: %s: %s\n", shown, strerror(-r));
	if (r < 0)
		return -EIO;
	keep_attrs(dfd, name, &st);
	return 0;
}

/* A path inside the filesystem: relative, no "..", no empty name. */
static int path_ok(const char *p)
{
	const char *s = p;

	while (*s == '/')
		s++;
	if (!*s)
		return 0;
	while (*s) {
		size_t n = strcspn(s, "/");

		if ((n == 2 && !strncmp(s, "..", 2)) || (n == 1 && *s == '.'))
			return 0;
		s += n;
		while (*s == '/')
			s++;
	}
	return 1;
}

/* PATH under root to the same relative path under to. */
static int copy_one(const char *root, const char *to, const char *path)
{
	char rel[PATH_MAX], parent[PATH_MAX], *slash;
	const char *name;
	int sfd, dfd, r;

	snprintf(rel, sizeof(rel), "%s", path + strspn(path, "/"));
	while (rel[0] && rel[strlen(rel) - 1] == '/')
		rel[strlen(rel) - 1] = 0;
	slash = strrchr(rel, '/');
	name = slash ? slash + 1 : rel;
	if (slash)
		*slash = 0;
	snprintf(parent, sizeof(parent), "%s/%s", root, slash ? rel : "");
	sfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return fail_errno("restore", -errno, "%s is not in the point", path);
	snprintf(parent, sizeof(parent), "%s/%s", to, slash ? rel : "");
	r = mkdir_p(parent);
	dfd = r < 0 ? -1 : open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		close(sfd);
		return fail_errno("restore", r < 0 ? r : -errno, "cannot create %s", parent);
	}
	r = copy_tree(sfd, dfd, name, path);
	close(sfd);
	close(dfd);
	if (!r)
		printf("restored %s\n", path);
	return r ? EXIT_FAIL : EXIT_OK;
}

int restore_files(const struct restore_files_args *f)
{
	struct mount_args a = {
		.vault = f->vault, .point = f->point, .kek = f->kek, .quiet = 1,
	};
	char tmp[] = MOUNT_STATE_DIR "/files.XXXXXX";
	unsigned int i;
	int r, u;

	for (i = 0; i < f->nfiles; i++)
		if (!path_ok(f->files[i]))
			return fail_errno("restore", 0, "--files %s: give a path inside the "
					  "point's filesystem (no '.' or '..')", f->files[i]);
	r = mkdir_p(f->to);
	if (r < 0)
		return fail_errno("restore", r, "cannot create %s", f->to);
	r = mkdir_p(MOUNT_STATE_DIR);
	if (r < 0 || !mkdtemp(tmp))
		return fail_errno("restore", r < 0 ? r : -errno, "cannot create a directory in "
				  MOUNT_STATE_DIR);
	a.dir = tmp;
	r = mount_point("restore", &a);
	if (r) {
		rmdir(tmp);
		return r;
	}
	for (i = 0; !r && i < f->nfiles; i++)
		r = copy_one(tmp, f->to, f->files[i]);
	u = umount_dir("restore", tmp, 1);
	rmdir(tmp);
	return r ? r : u;
}
