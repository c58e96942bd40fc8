/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_SOFTDEL_H
#define CRYPTSNAP_VAULT_SOFTDEL_H

/*
 * Soft delete and the retention lock (docs/vault-format.md, "Soft
 * delete").  prune marks a point deleted: its sealed manifest gains
 * "deleted" (the time), so only a holder of the vault's keys can mark one.
 * GC purges a deleted point (removes its manifest, so its blobs become
 * garbage) once the grace period has passed since then and its
 * retain-until too; until then it is kept whole, listed by
 * "points --deleted" and brought back by undelete.
 *
 * The grace period and the lock are in config.json, which a vault writer
 * can change; the host's pin (vault_pin.h) keeps what this host saw or
 * set, and the host uses the longest grace and the lock if either says
 * so.  Once locked, nothing here shortens the grace or unlocks the vault.
 */
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_manifest.h"

struct softdel_settings {
	int64_t grace;		/* seconds a deleted point is kept, this host */
	int64_t floor;		/* the vault's and the pin's longest */
	int locked;
};

/* What this host applies: floor, or v->grace_override when set (-EPERM
 * when the vault is locked and the override is shorter than floor). */
int vault_softdel_settings(struct vault *v, struct softdel_settings *out);
/* After an unlock: pins the vault's settings the first time, and a lock
 * (with a grace that only grows) whenever the vault shows one. */
int vault_softdel_pin(struct vault *v);
/* Sets the grace (set_grace) and/or the lock in config.json and the pin.
 * -EPERM when the vault is locked and grace is shorter than the floor. */
int vault_softdel_configure(struct vault *v, int set_grace, int64_t grace, int lock);

/* Marks point id deleted at when (0: undeletes it).  -EALREADY when it is
 * already in that state, -ENOENT when there is no such point. */
int vault_point_set_deleted(struct vault *v, const char *id, int64_t when);
/* When a deleted point goes for good (never before its retain-until). */
int64_t softdel_purge_time(const struct manifest *m, int64_t grace);

#endif
