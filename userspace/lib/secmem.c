// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/secmem.h"

/* The allocation length sits in front of the user pointer. */
#define SECMEM_HDR 64

void secmem_wipe(void *p, size_t len)
{
	if (p)
		explicit_bzero(p, len);
}

void *secmem_alloc(size_t len)
{
	size_t total = len + SECMEM_HDR;
	uint8_t *p;

	p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* mlock can fail under a small RLIMIT_MEMLOCK; keep going, still
	 * wiped and out of core dumps. */
	(void)mlock(p, total);
	(void)madvise(p, total, MADV_DONTDUMP);
	memcpy(p, &total, sizeof(total));
	return p + SECMEM_HDR;
}

void secmem_free(void *ptr)
{
	uint8_t *p;
	size_t total;

	if (!ptr)
		return;
	p = (uint8_t *)ptr - SECMEM_HDR;
	memcpy(&total, p, sizeof(total));
	explicit_bzero(p, total);
	munlock(p, total);
	munmap(p, total);
}
