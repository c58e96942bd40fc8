/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_DEK_H
#define CRYPTSNAP_VAULT_DEK_H

/*
 * DEK lifetime.  Every process that seals blobs counts them
 * (vault_keys.session_sealed) and, at vault_close(), publishes the count
 * as "usage/<time>-<rand>.json" ({"dek": id, "blobs": n}); exclusive-lock
 * holders (prune's GC, key rotate) fold those records into the keyring's
 * per-DEK "sealed" count and replace the current DEK once it reaches
 * DEK_BUDGET.  Old DEKs stay in the keyring: every blob names its DEK.
 * A new DEK is also made at every KEK rotation (vault_rotate.c).
 */
#include "vault/vault.h"

/* Publishes this process's seal count (no-op when nothing was sealed). */
int vault_dek_usage_flush(struct vault *v);
/* Exclusive lock held: folds usage records into the keyring and rolls the
 * DEK when force is set or the budget is reached.  *rolled gets the new
 * DEK id (0 when none was made; all 255 ids used also gives 0). */
int vault_dek_maintain(struct vault *v, int force, unsigned int *rolled);

#endif
