/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_SEALED_H
#define CRYPTSNAP_VAULT_SEALED_H

/*
 * Sealed named objects of an unlocked vault (points, indexes, disk
 * records): one blob envelope per backend object, bound to its type and
 * an id (the name, or an explicit 32-byte id).
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_blob.h"

/* Largest plaintext blob: a chunk or a worst-case segment. */
uint32_t vault_max_blob(const struct vault *v);

int vault_put_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, const void *buf, size_t len);
int vault_get_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, size_t max,
		     uint8_t **buf, size_t *len);
/* The same with an explicit 32-byte AAD id (names longer than 32 bytes). */
int vault_put_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN],
			const void *buf, size_t len);
int vault_get_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN], size_t max,
			uint8_t **buf, size_t *len);

#endif
