/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_SOURCE_H
#define CRYPTSNAP_SOURCE_H

/* Image files and block devices as sources and restore targets. */
#include <stdint.h>

struct image {
	int fd;
	uint64_t size;
	int is_blockdev;
};

int image_open_source(const char *path, struct image *img);
/* Opens or creates a restore target of size bytes.  A non-empty target
 * needs force (-EEXIST otherwise).  *zeroed is set when the target is a
 * fresh or truncated regular file, so zero chunks need no writes. */
int image_open_target(const char *path, uint64_t size, int force, struct image *img,
		      int *zeroed, int *created);
/* Zeros [off, off+len) of a block device with BLKZEROOUT (the kernel
 * uses WRITE ZEROES or unmap where the device offers them); -ENOTTY on
 * anything else, -EOPNOTSUPP/-EINVAL where the device refuses. */
int image_zero_range(int fd, uint64_t off, uint64_t len);
/* Reads whole file (for escrow inputs), at most max bytes. */
int read_small_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* The same straight into secure memory (lib/secmem.h), for passphrases
 * and key files: *buf is secmem_free()d by the caller. */
int read_secret_file(const char *path, size_t max, uint8_t **buf, size_t *len);

#endif
