// SPDX-License-Identifier: GPL-2.0
/*
 * Local directory backend.  Objects are files below the vault directory;
 * a put writes tmp/<random>, fsyncs it, renames it into place and fsyncs
 * the target directory.  A deferred put leaves that directory fsync to
 * sync(), which fsyncs each directory deferred puts renamed into once.
 * Files are 0600, directories 0700.
 */
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "store/backend.h"

struct local {
	struct backend b;
	int dirfd;
	pthread_mutex_t mu;		/* guards dirty */
	struct name_list dirty;		/* directories sync() must fsync */
};

static struct local *to_local(struct backend *b)
{
	return (struct local *)b;
}

/* Object names are relative, '/'-separated, with no "." or ".." part. */
static int name_ok(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/' || strlen(name) > 512)
		return 0;
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return 0;
		p = *e ? e + 1 : e;
	}
	return 1;
}

/* tmp/<pid>-<random>: unique among concurrent writers of this vault. */
static int tmp_name(char *tmp, size_t tmplen)
{
	uint8_t rnd[8];
	char hex[17];
	int r;

	r = crypto_random(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(tmp, tmplen, "tmp/%d-%s", (int)getpid(), hex);
	return 0;
}

/*
 * Creates the directories above an object.  A directory this call made is
 * fsynced, and so is its parent (which now names it), so that an object
 * published below it survives a crash together with its path.
 */
static int make_dirs(int dirfd, const char *name)
{
	char p[600];
	char *s;
	int r;

	if ((size_t)snprintf(p, sizeof(p), "%s", name) >= sizeof(p))
		return -ENAMETOOLONG;
	for (s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(dirfd, p, 0700) < 0) {
			if (errno != EEXIST)
				return -errno;
		} else {
			r = fsync_dir_at(dirfd, p);
			if (!r)
				r = fsync_parent_at(dirfd, p);
			if (r < 0)
				return r;
			crashpoint("store.dir-made");
		}
		*s = '/';
	}
	return 0;
}

/* Through tmp/: a put replaces the object, a put_new (WFA_NOREPLACE,
 * published by link()) fails with -EEXIST instead. */
static int put_obj(struct backend *b, const char *name, const void *buf, size_t len,
		   unsigned int flags)
{
	struct local *l = to_local(b);
	char tmp[64];
	int r;

	if (!name_ok(name))
		return -EINVAL;
	r = tmp_name(tmp, sizeof(tmp));
	if (!r)
		r = make_dirs(l->dirfd, tmp);
	if (!r)
		r = make_dirs(l->dirfd, name);
	if (r < 0)
		return r;
	return write_file_atomic_at(l->dirfd, name, tmp, buf, len, WFA_EXCL | flags);
}

static int local_put(struct backend *b, const char *name, const void *buf, size_t len)
{
	return put_obj(b, name, buf, len, 0);
}

/* Remembers the directory of name for sync(); l->mu not held. */
static int mark_dirty(struct local *l, const char *name)
{
	const char *slash = strrchr(name, '/');
	char dir[600];
	size_t i;
	int r = 0;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - name) : 1,
		 slash ? name : ".");
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->dirty.n && strcmp(l->dirty.names[i], dir); i++)
		;
	if (i == l->dirty.n)
		r = name_list_add(&l->dirty, dir);
	pthread_mutex_unlock(&l->mu);
	return r;
}

static int local_put_deferred(struct backend *b, const char *name, const void *buf,
			      size_t len)
{
	int r = mark_dirty(to_local(b), name);

	return r ? r : put_obj(b, name, buf, len, WFA_NODIRSYNC | WFA_DIRECT);
}

static int local_sync(struct backend *b)
{
	struct local *l = to_local(b);
	struct name_list dirty;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&l->mu);
	dirty = l->dirty;
	memset(&l->dirty, 0, sizeof(l->dirty));
	pthread_mutex_unlock(&l->mu);
	for (i = 0; !r && i < dirty.n; i++)
		r = fsync_dir_at(l->dirfd, dirty.names[i]);
	name_list_free(&dirty);
	return r;
}

static int local_put_new(struct backend *b, const char *name, const void *buf,
			 size_t len)
{
	return put_obj(b, name, buf, len, WFA_NOREPLACE);
}

/* flags: added to the read-only open (O_DIRECT). */
static int open_obj(struct local *l, const char *name, int flags)
{
	int fd;

	if (!name_ok(name))
		return -EINVAL;
	fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
	return fd < 0 ? -errno : fd;
}

static int local_get(struct backend *b, const char *name, size_t maxlen,
		     void **buf, size_t *len)
{
	struct stat st;
	void *p;
	int fd, r;

	fd = open_obj(to_local(b), name, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EIO;
	}
	if ((uint64_t)st.st_size > maxlen) {
		close(fd);
		return -EFBIG;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	r = pread_full(fd, p, (size_t)st.st_size, 0);
	close(fd);
	if (r < 0) {
		free(p);
		return r;
	}
	*buf = p;
	*len = (size_t)st.st_size;
	return 0;
}

static int local_get_range(struct backend *b, const char *name, uint64_t off,
			   void *buf, size_t len)
{
	int fd, r;

	fd = open_obj(to_local(b), name, 0);
	if (fd < 0)
		return fd;
	r = pread_full(fd, buf, len, off);
	close(fd);
	return r;
}

/*
 * Chunks and runs of chunks for restore and mount: the aligned range
 * around [off, off+len) is read with O_DIRECT straight into the caller's
 * aligned buffer.  Through the page cache the copy and the page
 * allocations cost more than the device read on the hosts measured
 * (docs/performance.md, issues 16 and 18), and neither reads the same
 * pack bytes twice (mount keeps its own cache of chunks and reads ahead
 * itself).  Reads smaller than a chunk can be, and file systems that
 * refuse O_DIRECT, go through the cache.
 */
#define DIRECT_READ_MIN	(64U << 10)

static int local_get_range_aligned(struct backend *b, const char *name, uint64_t off,
				   void *buf, size_t len)
{
	uint64_t a = off & ~(uint64_t)4095, want = off + len - a;
	size_t room = (size_t)((want + 4095) & ~(uint64_t)4095), got = 0;
	int fd, r;

	if (len < DIRECT_READ_MIN || (uintptr_t)buf % 4096)
		goto cached;
	fd = open_obj(to_local(b), name, O_DIRECT);
	if (fd == -EINVAL && name_ok(name))
		goto cached;	/* O_DIRECT refused by the file system */
	if (fd < 0)
		return fd;
	while (got < want) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, room - got, (off_t)(a + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && !got) {
			close(fd);
			goto cached;
		}
		if (n <= 0) {
			r = n < 0 ? -errno : -ENODATA;
			close(fd);
			return r;
		}
		got += (size_t)n;
	}
	close(fd);
	return (int)(off - a);
cached:
	r = local_get_range(b, name, off, buf, len);
	return r < 0 ? r : 0;
}

/* For file systems whose readdir() reports DT_UNKNOWN (XFS without ftype,
 * some network file systems): the type from the inode.  Symlinks and
 * anything else are neither objects nor directories. */
static unsigned char type_at(int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	if (S_ISDIR(st.st_mode))
		return DT_DIR;
	return S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

static int walk(int dirfd, const char *rel, const char *prefix, struct name_list *out)
{
	struct dirent *de;
	unsigned char type;
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (!r && (de = readdir(d))) {
		char path[600];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (strncmp(path, prefix, MIN(strlen(path), strlen(prefix))))
			continue;
		type = de->d_type;
		if (type == DT_UNKNOWN)
			type = type_at(dirfd, path);
		if (type == DT_DIR)
			r = walk(dirfd, path, prefix, out);
		else if (type == DT_REG && !strncmp(path, prefix, strlen(prefix)))
			r = name_list_add(out, path);
	}
	closedir(d);
	return r;
}

static int local_list(struct backend *b, const char *prefix, struct name_list *out)
{
	int r = walk(to_local(b)->dirfd, "", prefix, out);

	if (r < 0)
		name_list_free(out);
	else
		name_list_sort(out);
	return r;
}

static int local_del(struct backend *b, const char *name)
{
	struct local *l = to_local(b);

	if (!name_ok(name))
		return -EINVAL;
	if (unlinkat(l->dirfd, name, 0) < 0)
		return -errno;
	crashpoint("store.unlinked");
	return fsync_parent_at(l->dirfd, name);
}

static int stat_obj(struct backend *b, const char *name, struct stat *st)
{
	if (!name_ok(name))
		return -EINVAL;
	return fstatat(to_local(b)->dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int local_size(struct backend *b, const char *name, uint64_t *size)
{
	struct stat st;
	int r = stat_obj(b, name, &st);

	if (!r)
		*size = (uint64_t)st.st_size;
	return r;
}

static int local_mtime(struct backend *b, const char *name, int64_t *mtime)
{
	struct stat st;
	int r = stat_obj(b, name, &st);

	if (!r)
		*mtime = (int64_t)st.st_mtime;
	return r;
}

static int local_cleanup(struct backend *b, int64_t older_than)
{
	struct name_list l = { 0 };
	int64_t t = 0;
	size_t i;
	int r;

	r = local_list(b, "tmp/", &l);
	for (i = 0; !r && i < l.n; i++)
		if (!local_mtime(b, l.names[i], &t) && t < older_than)
			unlinkat(to_local(b)->dirfd, l.names[i], 0);
	name_list_free(&l);
	return r;
}

static void local_close(struct backend *b)
{
	struct local *l = to_local(b);

	close(l->dirfd);
	name_list_free(&l->dirty);
	pthread_mutex_destroy(&l->mu);
	free(b->location);
	free(l);
}

static const struct backend_ops local_ops = {
	.scheme = "file",
	.put_parallel = 2,		/* one writes while another fsyncs */
	.put = local_put,
	.put_deferred = local_put_deferred,
	.sync = local_sync,
	.put_new = local_put_new,
	.get = local_get,
	.get_range = local_get_range,
	.get_range_aligned = local_get_range_aligned,
	.list = local_list,
	.del = local_del,
	.size = local_size,
	.mtime = local_mtime,
	.cleanup = local_cleanup,
	.close = local_close,
};

static int open_dir(const char *path, int create)
{
	int fd;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (create && mkdirat(fd, "tmp", 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int backend_local_open(const char *path, int create, struct backend **out)
{
	struct local *l;
	int fd;

	fd = open_dir(path, create);
	if (fd < 0)
		return fd;
	l = calloc(1, sizeof(*l));
	if (!l || !(l->b.location = strdup(path))) {
		free(l);
		close(fd);
		return -ENOMEM;
	}
	l->b.ops = &local_ops;
	l->dirfd = fd;
	pthread_mutex_init(&l->mu, NULL);
	*out = &l->b;
	return 0;
}
