// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <blkid/blkid.h>

#include "sys/blkdev.h"

int blk_devno(const char *path, dev_t *dev)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	*dev = st.st_rdev;
	return 0;
}

int blk_size(const char *path, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, bytes))
		r = -errno;
	close(fd);
	return r;
}

void blk_path(dev_t dev, char *out, size_t len)
{
	char link[128], target[256];
	ssize_t n;

	/* /sys/dev/block/M:m -> ../../devices/.../<kernel name> */
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		snprintf(out, len, "/dev/%s", strrchr(target, '/') + 1);
	} else {
		snprintf(out, len, "/dev/block/%u:%u", major(dev), minor(dev));
	}
}

/* Stacks are shallow (fs -> crypt -> cryptsnap -> disk -> partition). */
#define MAX_DEPTH 16

static int depends(dev_t top, dev_t bottom, int depth)
{
	char dir[128], p[400];
	struct dirent *e;
	DIR *d;
	int found = 0;

	if (top == bottom)
		return 1;
	if (depth > MAX_DEPTH)
		return 0;
	/* A partition lives beneath its whole disk's holders too. */
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/slaves", major(top), minor(top));
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		unsigned int ma, mi;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/dev", dir, e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &ma, &mi) == 2)
			found = depends(makedev(ma, mi), bottom, depth + 1);
		fclose(f);
	}
	closedir(d);
	return found;
}

int blk_depends_on(dev_t top, dev_t bottom)
{
	return depends(top, bottom, 0);
}

int blk_probe_luks(const char *path, char *uuid, size_t len)
{
	const char *type = NULL, *u = NULL;
	blkid_probe pr;
	int r = -ENODEV;

	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return errno ? -errno : -ENODEV;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	if (blkid_do_safeprobe(pr) == 0 &&
	    !blkid_probe_lookup_value(pr, "TYPE", &type, NULL) &&
	    !strcmp(type, "crypto_LUKS")) {
		if (blkid_probe_lookup_value(pr, "UUID", &u, NULL))
			u = "";
		snprintf(uuid, len, "%s", u);
		r = 0;
	}
	blkid_free_probe(pr);
	return r;
}

int blk_probe_fstype(const char *path, char *type, size_t len)
{
	const char *t = NULL;
	blkid_probe pr;
	int r = -ENODEV;

	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return errno ? -errno : -ENODEV;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	if (blkid_do_safeprobe(pr) == 0 && !blkid_probe_lookup_value(pr, "TYPE", &t, NULL)) {
		snprintf(type, len, "%s", t);
		r = 0;
	}
	blkid_free_probe(pr);
	return r;
}

int cow_dir_check(const char *dir, dev_t protected_dev)
{
	struct stat st;

	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return blk_depends_on(st.st_dev, protected_dev) ? -ELOOP : 0;
}

static int loop_attach(int file_fd, char *loopdev, size_t len, int *out)
{
	struct loop_info64 info = { .lo_flags = LO_FLAGS_AUTOCLEAR };
	int ctl, nr, fd, tries;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	/* Another process may grab the free device first: retry. */
	for (tries = 0; tries < 8; tries++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			break;
		snprintf(loopdev, len, "/dev/loop%d", nr);
		fd = open(loopdev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, LOOP_SET_FD, file_fd) == 0) {
			if (ioctl(fd, LOOP_SET_STATUS64, &info)) {
				int r = -errno;

				ioctl(fd, LOOP_CLR_FD, 0);
				close(fd);
				close(ctl);
				return r;
			}
			close(ctl);
			*out = fd;
			return 0;
		}
		close(fd);
	}
	close(ctl);
	return -EBUSY;
}

int cow_create(const char *dir, const char *name, uint64_t size, char *loopdev,
	       size_t len, int *fd, int *watch)
{
	char path[4200];
	int ffd, r;

	*watch = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.cow", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	unlink(path);	/* a leftover of a crashed run holds nothing of value */
	ffd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ffd < 0)
		return -errno;
	r = ftruncate(ffd, (off_t)size) ? -errno : 0;
	/*
	 * Not ffd itself: the loop device shares that struct file, and an
	 * error its flush reports (to the kernel target, which then
	 * invalidates the snapshot) would no longer be reported on it.
	 */
	if (!r) {
		*watch = open(path, O_RDONLY | O_CLOEXEC);
		r = *watch < 0 ? -errno : 0;
	}
	if (!r)
		r = loop_attach(ffd, loopdev, len, fd);
	unlink(path);
	close(ffd);
	if (r && *watch >= 0) {
		close(*watch);
		*watch = -1;
	}
	return r;
}

int cow_check(int watch)
{
	/*
	 * WAIT_BEFORE alone: waits for writeback in flight and reports the
	 * file's writeback errors since watch was opened (errseq), without
	 * writing the dirty pages (they were read from the cache, correctly,
	 * and die with the file).
	 */
	if (sync_file_range(watch, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE))
		return -errno;
	return 0;
}
