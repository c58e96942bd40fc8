/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_FSUTIL_H
#define CRYPTSNAP_FSUTIL_H

/*
 * Durable file-system steps shared by the vault, the local backend and the
 * local disk state.  dirfd is AT_FDCWD or an open directory; every
 * directory created is 0700.  Errors are negative errno.
 */
#include <stddef.h>
#include <stdint.h>

/* Creates every directory above the last component of path. */
int mkdir_parents_at(int dirfd, const char *path);
/* mkdir -p: path and every directory above it. */
int mkdir_p(const char *path);
/* fsyncs the directory dir (relative to dirfd). */
int fsync_dir_at(int dirfd, const char *dir);
/* fsyncs the directory holding path (dirfd itself when path has no '/'). */
int fsync_parent_at(int dirfd, const char *path);

/*
 * pwrite_full(), but the 4 KiB-aligned head of a 4 KiB-aligned buf at an
 * aligned offset goes to the device without a copy into the page cache
 * (O_DIRECT, switched on and off again on fd), the tail through it.
 * Where O_DIRECT is refused everything is written normally; an fd opened
 * with O_DIRECT is written as it is.  Not for fds other threads write at
 * the same time.
 */
int pwrite_direct(int fd, const void *buf, size_t len, uint64_t off);
/*
 * pread_full() the same way: the aligned head read with O_DIRECT (no
 * page-cache fill, no readahead, no eviction of what the machine has
 * cached), the tail and any refusal through the cache.  O_DIRECT first
 * writes back dirty cached pages of the range, so the bytes are the same.
 * An fd opened with O_DIRECT is read as it is.  Not for fds other threads
 * read at the same time.
 */
int pread_direct(int fd, void *buf, size_t len, uint64_t off);

/* write_file_atomic_at() flags. */
enum {
	WFA_EXCL = 1,		/* tmp must not exist yet */
	WFA_MKDIRS = 2,		/* create missing directories above path */
	WFA_NOREPLACE = 4,	/* publish with link(): -EEXIST if path exists */
	WFA_NODIRSYNC = 8,	/* leave path's directory to the caller's fsync */
	WFA_DIRECT = 16,	/* buf 4 KiB-aligned: bypass the page cache */
};

/*
 * Writes buf to tmp (0600), fsyncs it, renames it to path (or links it
 * there, WFA_NOREPLACE) and fsyncs path's directory (unless
 * WFA_NODIRSYNC: the caller fsyncs it later).  On failure tmp is
 * removed and path is untouched.
 */
int write_file_atomic_at(int dirfd, const char *path, const char *tmp,
			 const void *buf, size_t len, unsigned int flags);

#endif
