/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_INDEX_H
#define CRYPTSNAP_VAULT_INDEX_H

/*
 * The location index as stored: index/<session>.idx objects loaded into
 * the in-memory map of vault_bindex.h, and blobs read by id through it.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"

#define INDEX_MAX	(2ULL << 30)

/* Loads every index object; names of damaged ones go to *damaged (may be
 * NULL).  Damage is not an error here: it shows up as missing blobs. */
int vault_index_load(struct vault *v, struct bindex *bi, struct name_list *damaged);

/* Reads and opens one blob; *len gets the plaintext length. */
int vault_blob_read(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		    const uint8_t id[32], uint8_t type, uint8_t *out, size_t max,
		    size_t *len);

#endif
