// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "vault/vault_seg.h"

static const uint8_t zero_id[SEG_ID_LEN];

int seg_is_zero_id(const uint8_t *id)
{
	return !memcmp(id, zero_id, SEG_ID_LEN);
}

size_t seg_max_size(uint32_t n)
{
	/* Worst case alternates zero and id runs. */
	return 8 + (size_t)n * (SEG_ID_LEN + 5);
}

static uint32_t run_length(const seg_id_t *ids, uint32_t i, uint32_t n, int zero)
{
	uint32_t j = i;

	while (j < n && seg_is_zero_id(ids[j]) == zero)
		j++;
	return j - i;
}

int seg_encode(const seg_id_t *ids, uint32_t n, uint8_t **out, size_t *len)
{
	uint8_t *buf = malloc(seg_max_size(n)), *p;
	uint32_t i = 0;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, "CSS1", 4);
	put_le32(buf + 4, n);
	p = buf + 8;
	while (i < n) {
		int zero = seg_is_zero_id(ids[i]);
		uint32_t c = run_length(ids, i, n, zero);

		*p++ = zero ? 0 : 1;
		put_le32(p, c);
		p += 4;
		if (!zero) {
			memcpy(p, ids[i], (size_t)c * SEG_ID_LEN);
			p += (size_t)c * SEG_ID_LEN;
		}
		i += c;
	}
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

int seg_decode(const uint8_t *buf, size_t len, uint32_t n, seg_id_t *ids)
{
	size_t pos = 8;
	uint32_t i = 0;

	if (len < 8 || memcmp(buf, "CSS1", 4) || get_le32(buf + 4) != n)
		return -EUCLEAN;
	while (i < n) {
		uint8_t kind;
		uint32_t c;

		if (len - pos < 5)
			return -EUCLEAN;
		kind = buf[pos];
		c = get_le32(buf + pos + 1);
		pos += 5;
		if (kind > 1 || !c || c > n - i)
			return -EUCLEAN;
		if (kind == 0) {
			memset(ids[i], 0, (size_t)c * SEG_ID_LEN);
		} else {
			if ((len - pos) / SEG_ID_LEN < c)
				return -EUCLEAN;
			memcpy(ids[i], buf + pos, (size_t)c * SEG_ID_LEN);
			pos += (size_t)c * SEG_ID_LEN;
			/* A zero id inside an id run is not canonical. */
			for (uint32_t k = i; k < i + c; k++)
				if (seg_is_zero_id(ids[k]))
					return -EUCLEAN;
		}
		i += c;
	}
	return pos == len ? 0 : -EUCLEAN;
}
