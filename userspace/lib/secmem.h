/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_SECMEM_H
#define CRYPTSNAP_SECMEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Memory for key material: page-aligned, locked (never swapped), excluded
 * from core dumps, and wiped before it is returned to the system.  The only
 * place keys may live outside a crypto context.
 *
 * Locking is not optional: when mlock fails (RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK) secmem_alloc returns NULL rather than hand out memory that
 * may reach swap, and secmem_lock_failed() says so from then on.
 */
void *secmem_alloc(size_t len);
void secmem_free(void *p);
void secmem_wipe(void *p, size_t len);
/* 1 once an allocation failed because its memory could not be locked. */
int secmem_lock_failed(void);
/* 0 when len bytes can be locked now (allocated, locked and freed), else
 * the negative errno of mlock. */
int secmem_probe(size_t len);

/*
 * The process itself: not dumpable (no core file, no ptrace by other
 * processes of the same user, /proc/<pid>/mem closed) and a core size
 * limit of 0, for the whole run.  0 or the first negative errno.
 */
int secmem_harden_process(void);
/* What the kernel says now: dumpable flag and RLIMIT_CORE soft limit. */
int secmem_process_state(int *dumpable, uint64_t *core_limit);

#endif
