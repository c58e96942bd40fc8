// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/source.h"

static int image_size(int fd, struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

int image_open_source(const char *path, struct image *img)
{
	struct stat st;
	int r;

	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0)
		return -errno;
	r = fstat(img->fd, &st) < 0 ? -errno : image_size(img->fd, &st, &img->size);
	if (r < 0) {
		close(img->fd);
		return r;
	}
	img->is_blockdev = S_ISBLK(st.st_mode);
	posix_fadvise(img->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

/* A target is empty when it is a zero-length file or reads as zeros in
 * its first MiB (a fresh disk). */
static int target_empty(int fd, struct stat *st)
{
	uint8_t *buf;
	ssize_t n;
	int empty;

	if (S_ISREG(st->st_mode) && !st->st_size)
		return 1;
	buf = malloc(1 << 20);
	if (!buf)
		return 0;
	n = pread(fd, buf, 1 << 20, 0);
	empty = n >= 0 && buf_is_zero(buf, (size_t)n);
	free(buf);
	return empty;
}

static int prepare_file(struct image *img, uint64_t size, int *zeroed)
{
	/* Truncating first turns every untouched byte into a hole of zeros. */
	if (ftruncate(img->fd, 0) < 0 || ftruncate(img->fd, (off_t)size) < 0)
		return -errno;
	*zeroed = 1;
	return 0;
}

int image_open_target(const char *path, uint64_t size, int force, struct image *img,
		      int *zeroed, int *created)
{
	struct stat st;
	int r;

	*zeroed = 0;
	*created = 0;
	/* O_EXCL on a block device: refuse one that is mounted or held. */
	img->fd = open(path, O_RDWR | O_CLOEXEC |
		       (!stat(path, &st) && S_ISBLK(st.st_mode) ? O_EXCL : 0));
	if (img->fd < 0 && errno == ENOENT) {
		img->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		*created = img->fd >= 0;
	}
	if (img->fd < 0)
		return -errno;
	r = fstat(img->fd, &st) < 0 ? -errno : image_size(img->fd, &st, &img->size);
	if (!r && !force && !target_empty(img->fd, &st))
		r = -EEXIST;
	if (!r && S_ISBLK(st.st_mode) && img->size < size)
		r = -ENOSPC;
	if (!r && S_ISREG(st.st_mode))
		r = prepare_file(img, size, zeroed);
	if (r < 0) {
		close(img->fd);
		if (*created)
			unlink(path);
		return r;
	}
	img->is_blockdev = S_ISBLK(st.st_mode);
	return 0;
}

int image_zero_range(int fd, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };

	return ioctl(fd, BLKZEROOUT, range) < 0 ? -errno : 0;
}

static int read_whole(const char *path, size_t max, int secret, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	n = st.st_size ? (size_t)st.st_size : 1;
	*buf = secret ? secmem_alloc(n) : malloc(n);
	r = *buf ? pread_full(fd, *buf, (size_t)st.st_size, 0) : -ENOMEM;
	close(fd);
	if (r < 0) {
		if (secret)
			secmem_free(*buf);
		else
			free(*buf);
		*buf = NULL;
		return r;
	}
	*len = (size_t)st.st_size;
	return 0;
}

int read_small_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	return read_whole(path, max, 0, buf, len);
}

int read_secret_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	return read_whole(path, max, 1, buf, len);
}
