/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_ESCROW_H
#define CRYPTSNAP_VAULT_ESCROW_H

/*
 * Escrow slots: opaque secrets stored with a recovery point.  ESCROW_IMAGE
 * slots (the LUKS header area) point into the point's own image; ESCROW_DEK
 * slots (headers of points stored before that) are sealed with the vault DEK; ESCROW_KEK
 * slots (passphrase, keyfile) are sealed with a random slot key that is
 * wrapped by the KEK, so a KEK rotation re-wraps 32 bytes per slot.
 */
#include "vault/vault.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

struct vault_kek;

int escrow_seal(struct vault *v, struct blob_ctx *c, const char *point_id,
		const char *name, int kind, const uint8_t *data, size_t len,
		struct escrow_slot *out);
/* *data is in secure memory (lib/secmem.h): the caller secmem_free()s it. */
int escrow_open(struct vault *v, struct blob_ctx *c, const char *point_id,
		const struct escrow_slot *e, uint8_t **data, size_t *len);
/* The same into out, which holds e->len - BLOB_OVERHEAD bytes (e.g.
 * secure memory); c may be NULL for an ESCROW_KEK slot. */
int escrow_open_buf(struct vault *v, struct blob_ctx *c, const char *point_id,
		    const struct escrow_slot *e, uint8_t *out);
/*
 * ESCROW_IMAGE slots hold no bytes of their own: the length they name
 * (0 < len <= ESCROW_DATA_MAX, else -EUCLEAN) is read from the start of
 * the point's image (vault_restore_escrow()) and must match the SHA-256
 * they record (check: 0, or -EBADMSG).  escrow_open*() refuse them.
 */
int escrow_image_len(const struct escrow_slot *e, uint64_t *len);
int escrow_image_check(const struct escrow_slot *e, const uint8_t *data, size_t len);
/* Adds a wrapping of the slot key under new_kek as generation new_gen. */
int escrow_rewrap(struct vault *v, struct escrow_slot *e,
		  const struct vault_kek *new_kek, uint32_t new_gen);
/* Drops every wrapping whose generation is not gen. */
void escrow_keep_gen(struct escrow_slot *e, uint32_t gen);

#endif
