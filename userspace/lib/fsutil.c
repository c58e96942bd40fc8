// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/fsutil.h"
#include "lib/util.h"

int mkdir_parents_at(int dirfd, const char *path)
{
	char p[PATH_MAX];
	char *s;

	if ((size_t)snprintf(p, sizeof(p), "%s", path) >= sizeof(p))
		return -ENAMETOOLONG;
	for (s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(dirfd, p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

int mkdir_p(const char *path)
{
	int r = mkdir_parents_at(AT_FDCWD, path);

	if (!r && mkdir(path, 0700) < 0 && errno != EEXIST)
		r = -errno;
	return r;
}

int fsync_dir_at(int dirfd, const char *dir)
{
	int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int fsync_parent_at(int dirfd, const char *path)
{
	char p[PATH_MAX];
	const char *dir = ".";
	char *s;

	if ((size_t)snprintf(p, sizeof(p), "%s", path) >= sizeof(p))
		return -ENAMETOOLONG;
	s = strrchr(p, '/');
	if (s) {
		*s = 0;
		dir = s == p ? "/" : p;
	}
	return fsync_dir_at(dirfd, dir);
}

#define DIRECT_ALIGN	4096U

/* O_DIRECT on or off for fd. */
static int set_direct(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_DIRECT : fl & ~O_DIRECT;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static int io_full(int fd, void *buf, size_t len, uint64_t off, int wr)
{
	return wr ? pwrite_full(fd, buf, len, off) : pread_full(fd, buf, len, off);
}

/* pread_direct and pwrite_direct; wr picks the direction. */
static int io_direct(int fd, void *buf, size_t len, uint64_t off, int wr)
{
	size_t head = len & ~(size_t)(DIRECT_ALIGN - 1);
	int fl = fcntl(fd, F_GETFL), r;

	/* Opened with O_DIRECT by the caller: left as it is. */
	if (fl < 0 || (fl & O_DIRECT) || (uintptr_t)buf % DIRECT_ALIGN ||
	    off % DIRECT_ALIGN || !head || set_direct(fd, 1) < 0)
		return io_full(fd, buf, len, off, wr);
	r = io_full(fd, buf, head, off, wr);
	if (set_direct(fd, 0) < 0)
		return -EIO;
	if (r == -EINVAL)
		head = 0;	/* refused (alignment): all through the cache */
	else if (r < 0)
		return r;
	return io_full(fd, (uint8_t *)buf + head, len - head, off + head, wr);
}

int pread_direct(int fd, void *buf, size_t len, uint64_t off)
{
	return io_direct(fd, buf, len, off, 0);
}

int pwrite_direct(int fd, const void *buf, size_t len, uint64_t off)
{
	return io_direct(fd, (void *)buf, len, off, 1);
}

static int write_tmp(int dirfd, const char *tmp, const void *buf, size_t len,
		     unsigned int flags)
{
	int oflags = O_WRONLY | O_CREAT | O_CLOEXEC |
		     (flags & WFA_EXCL ? O_EXCL : O_TRUNC);
	int fd = openat(dirfd, tmp, oflags, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = (flags & WFA_DIRECT) ? pwrite_direct(fd, buf, len, 0) : write_full(fd, buf, len);
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r)
		unlinkat(dirfd, tmp, 0);
	return r;
}

/* tmp becomes path: renamed over it, or linked (never replacing). */
static int publish_tmp(int dirfd, const char *tmp, const char *path, unsigned int flags)
{
	if (!(flags & WFA_NOREPLACE))
		return renameat(dirfd, tmp, dirfd, path) < 0 ? -errno : 0;
	if (linkat(dirfd, tmp, dirfd, path, 0) < 0)
		return -errno;
	unlinkat(dirfd, tmp, 0);
	return 0;
}

int write_file_atomic_at(int dirfd, const char *path, const char *tmp,
			 const void *buf, size_t len, unsigned int flags)
{
	int r = write_tmp(dirfd, tmp, buf, len, flags);

	if (r)
		return r;
	crashpoint("file.tmp-synced");
	r = publish_tmp(dirfd, tmp, path, flags);
	if (r == -ENOENT && (flags & WFA_MKDIRS)) {
		r = mkdir_parents_at(dirfd, path);
		if (!r)
			r = publish_tmp(dirfd, tmp, path, flags);
	}
	if (r) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	crashpoint("file.published");
	if (flags & WFA_NODIRSYNC)
		return 0;
	r = fsync_parent_at(dirfd, path);
	if (!r)
		crashpoint("file.dir-synced");
	return r;
}
