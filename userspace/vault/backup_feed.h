/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_BACKUP_FEED_H
#define CRYPTSNAP_BACKUP_FEED_H

#include <stdint.h>

#include "vault/vault_backup.h"

/*
 * Reads chunks [first, first + count) of an image of img_size bytes from
 * fd and hands them to the backup engine in batches.  *bytes_read (if not
 * NULL) grows by what was read.  read_done (if not NULL) is told each
 * byte range once it is read (in the engine's buffer, no longer needed
 * from fd); its error stops the feed.
 */
struct feed_hook {
	int (*read_done)(uint64_t off, uint64_t len, void *arg);
	void *arg;
};

int feed_range(struct vault_backup *vb, int fd, uint64_t img_size, uint32_t cs,
	       uint64_t first, uint64_t count, uint64_t *bytes_read,
	       const struct feed_hook *hook);

#endif
