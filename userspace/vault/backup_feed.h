/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_BACKUP_FEED_H
#define CRYPTSNAP_BACKUP_FEED_H

#include <stdint.h>

#include "vault/vault_backup.h"

/*
 * Reads chunks [first, first + count) of an image of img_size bytes from
 * fd and hands them to the backup engine in batches.  *bytes_read (if not
 * NULL) grows by what was read.
 */
int feed_range(struct vault_backup *vb, int fd, uint64_t img_size, uint32_t cs,
	       uint64_t first, uint64_t count, uint64_t *bytes_read);

#endif
