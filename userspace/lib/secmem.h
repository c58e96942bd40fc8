/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_SECMEM_H
#define CRYPTSNAP_SECMEM_H

#include <stddef.h>

/*
 * Memory for key material: page-aligned, locked (never swapped), excluded
 * from core dumps, and wiped before it is returned to the system.  The only
 * place keys may live outside a crypto context.
 */
void *secmem_alloc(size_t len);
void secmem_free(void *p);
void secmem_wipe(void *p, size_t len);

#endif
