// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "lib/secmem.h"

/* The allocation length sits in front of the user pointer. */
#define SECMEM_HDR 64

static int lock_failed;

void secmem_wipe(void *p, size_t len)
{
	if (p)
		explicit_bzero(p, len);
}

int secmem_lock_failed(void)
{
	return __atomic_load_n(&lock_failed, __ATOMIC_RELAXED);
}

void *secmem_alloc(size_t len)
{
	size_t total = len + SECMEM_HDR;
	uint8_t *p;

	if (total < len) {
		errno = ENOMEM;
		return NULL;
	}
	p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Unlocked key memory could be written to swap: refuse it. */
	if (mlock(p, total)) {
		int e = errno;

		__atomic_store_n(&lock_failed, 1, __ATOMIC_RELAXED);
		munmap(p, total);
		errno = e == EPERM || e == EAGAIN ? ENOMEM : e;
		return NULL;
	}
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

int secmem_probe(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = 0;

	if (p == MAP_FAILED)
		return -errno;
	if (mlock(p, len))
		r = -errno;
	else
		munlock(p, len);
	munmap(p, len);
	return r;
}

int secmem_harden_process(void)
{
	struct rlimit none = { 0, 0 };
	int r = 0;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		r = -errno;
	if (setrlimit(RLIMIT_CORE, &none) && !r)
		r = -errno;
	return r;
}

int secmem_process_state(int *dumpable, uint64_t *core_limit)
{
	struct rlimit rl;
	int d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	if (d < 0 || getrlimit(RLIMIT_CORE, &rl))
		return -errno;
	*dumpable = d;
	*core_limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	return 0;
}
