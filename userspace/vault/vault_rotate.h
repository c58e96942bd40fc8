/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_ROTATE_H
#define CRYPTSNAP_VAULT_ROTATE_H

/*
 * KEK rotation.  Re-wraps the DEKs, the MAC key and every escrowed
 * secret; chunk data is never touched.  Crash-safe with a journal object
 * ("rotation.json"):
 *   1. journal; 2. every point and every disk record (vault_disk.h) gains
 *   a wrapping under the new generation (old ones stay valid);
 *   3. keys.json switches (the commit); 4. old wrappings dropped from
 *   points and disk records, journal removed.
 * An interrupted rotation is rolled back (before 3) or completed (after)
 * by vault_rotate_recover().  Needs an exclusive lock and unlocked keys.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

/* new_kek NULL: a fresh vault-managed KEK, refused (-EOPNOTSUPP) for a
 * customer-managed vault.  new_path receives the new KEK file. */
int vault_rotate(struct vault *v, const char *new_kek, char *new_path, size_t len);
int vault_rotate_recover(struct vault *v);
/* The journal's JSON (exposed for tests): -EUCLEAN unless it names a new
 * generation 1..UINT32_MAX. */
int rotate_journal_decode(const void *buf, size_t len, uint32_t *new_gen);

#endif
