/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_DEK_H
#define CRYPTSNAP_VAULT_DEK_H

/*
 * DEK lifetime.  Every process that seals blobs counts them
 * (vault_keys.session_sealed) and, at vault_close(), publishes the count
 * as "usage/<time>-<rand>.json" ({"dek": id, "blobs": n}); exclusive-lock
 * holders (prune's GC; a backup starting on an idle vault) fold those records into the keyring's
 * per-DEK "sealed" count and replace the current DEK once it reaches
 * DEK_BUDGET.  Old DEKs stay in the keyring: every blob names its DEK.
 * A new DEK is also made at every KEK rotation (vault_rotate.c).
 */
#include "vault/vault.h"

/* Publishes this process's seal count (no-op when nothing was sealed). */
int vault_dek_usage_flush(struct vault *v);
enum {
	DEK_ROLL = 1,		/* a new DEK now, whatever the count */
	DEK_LAZY = 2,		/* write the keyring only for a roll or when
				 * DEK_USAGE_FOLD records have piled up */
};
#define DEK_USAGE_FOLD	64

/* Exclusive lock held: folds usage records into the keyring and rolls the
 * DEK when asked or the budget is reached.  *rolled gets the new DEK id
 * (0 when none was made; all 255 ids used also gives 0). */
int vault_dek_maintain(struct vault *v, unsigned int flags, unsigned int *rolled);
/* Before a backup seals anything: the same, lazily, when the exclusive
 * lock is free at once (another job running: nothing is done). */
int vault_dek_before_backup(struct vault *v);

#endif
