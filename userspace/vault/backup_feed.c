// SPDX-License-Identifier: GPL-2.0
#include "lib/fsutil.h"
#include "lib/util.h"
#include "vault/backup_feed.h"

int feed_range(struct vault_backup *vb, int fd, uint64_t img_size, uint32_t cs,
	       uint64_t first, uint64_t count, uint64_t *bytes_read,
	       const struct feed_hook *hook)
{
	uint32_t per = vault_backup_batch_chunks(vb);
	uint64_t c = first, end = first + count;

	while (c < end) {
		uint32_t n = (uint32_t)MIN((uint64_t)per, end - c);
		uint64_t off = c * cs, len = MIN((uint64_t)n * cs, img_size - off);
		uint8_t *buf = vault_backup_buffer(vb);
		int r;

		if (!buf)
			return vault_backup_submit(vb, NULL, 0, 0);
		r = pread_direct(fd, buf, (size_t)len, off);
		if (!r && hook)
			r = hook->read_done(off, len, hook->arg);
		if (r < 0) {
			vault_backup_submit(vb, buf, c, 0);
			return r;
		}
		if (bytes_read)
			*bytes_read += len;
		r = vault_backup_submit(vb, buf, c, n);
		if (r < 0)
			return r;
		c += n;
	}
	return 0;
}
