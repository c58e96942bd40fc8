/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_BLOB_H
#define CRYPTSNAP_VAULT_BLOB_H

/*
 * Blob codec: every encrypted thing in the vault is one envelope
 *   "CSB1" | type u8 | dek id u8 | 0 u16 | nonce[12] | ciphertext | tag[16]
 * AES-256-GCM with AAD = "cryptsnap/v1" | vault id | header[0..8] | id[32],
 * so a blob only opens as the object it was written as.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define BLOB_ID_LEN	32
#define BLOB_HDR_LEN	20
#define BLOB_OVERHEAD	(BLOB_HDR_LEN + 16)

enum blob_type {
	BLOB_DATA = 'D',	/* a disk chunk */
	BLOB_SEG = 'S',		/* a segment of a point index */
	BLOB_MANIFEST = 'M',	/* a recovery point manifest */
	BLOB_INDEX = 'X',	/* a pack location index */
	BLOB_ESCROW = 'E',	/* an escrowed secret sealed with a DEK */
	BLOB_SECRET = 'K',	/* an escrowed secret sealed with a per-slot key */
	BLOB_DISK = 'R',	/* a disk record (vault_disk.h) */
	BLOB_CATALOGUE = 'C',	/* the catalogue of points (vault_catalogue.h) */
};

/* Per-thread crypto state for one vault. */
struct blob_ctx {
	struct crypto_hmac *mac;
	struct crypto_gcm *gcm[VAULT_MAX_DEKS];
	uint8_t dek_id[VAULT_MAX_DEKS];
	unsigned int ndeks;
	uint8_t cur;
	const uint8_t *vault_id;
	uint64_t *sealed;		/* vault_keys.session_sealed, atomic */
};

int blob_ctx_init(struct blob_ctx *c, const struct vault *v);
void blob_ctx_free(struct blob_ctx *c);

/* Content address: HMAC-SHA-256(mac key, type | data). */
int blob_id(struct blob_ctx *c, uint8_t type, const void *data, size_t len,
	    uint8_t id[BLOB_ID_LEN]);
/* out holds len + BLOB_OVERHEAD bytes. */
int blob_seal(struct blob_ctx *c, uint8_t type, const uint8_t id[BLOB_ID_LEN],
	      const void *in, size_t len, uint8_t *out);
/* out holds len - BLOB_OVERHEAD bytes; -EBADMSG on any mismatch. */
int blob_open(struct blob_ctx *c, uint8_t type, const uint8_t id[BLOB_ID_LEN],
	      const uint8_t *in, size_t len, uint8_t *out);
/* Seal/open with an explicit key (escrow slots). */
int blob_seal_key(const uint8_t key[32], const uint8_t *vault_id, uint8_t type,
		  const uint8_t id[BLOB_ID_LEN], const void *in, size_t len, uint8_t *out);
int blob_open_key(const uint8_t key[32], const uint8_t *vault_id, uint8_t type,
		  const uint8_t id[BLOB_ID_LEN], const uint8_t *in, size_t len, uint8_t *out);
/* A 32-byte id from a short name (points, indexes), zero padded. */
void blob_name_id(const char *name, uint8_t id[BLOB_ID_LEN]);

#endif
