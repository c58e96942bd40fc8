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

/* Largest index object read (the store refuses bigger ones before any read,
 * backend_object_limit()), and the most records one object holds: a writer
 * with more splits them over several objects. */
#define INDEX_MAX	(256ULL << 20)
#define INDEX_PART_RECS	(1U << 21)

/* Loads every index object; names of damaged ones go to *damaged (may be
 * NULL).  Damage is not an error here: it shows up as missing blobs.  Of
 * two locations of one blob, one in a pack that exists wins. */
int vault_index_load(struct vault *v, struct bindex *bi, struct name_list *damaged);

/* Marks in present[] (bi->npacks flags, caller frees) which of bi's packs
 * exist in the vault. */
int vault_index_packs_present(struct vault *v, const struct bindex *bi,
			      uint8_t **present);
/* Drops entries whose pack is gone, so dedup never trusts a lost pack: the
 * next backup stores those blobs again.  Returns how many were dropped. */
int vault_index_drop_missing(struct vault *v, struct bindex *bi);

/* Merges one index object into bi; packs is the sorted listing of packs/:
 * a location in a listed pack replaces one in a missing pack. */
int vault_index_merge_one(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			  const char *name, const struct name_list *packs);
/* Loads one index object (authenticated, decoded) into bi. */
int vault_index_load_one(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			 const char *name);

/* Publishes recs (locations in bi, which the caller holds still) as index
 * objects of at most INDEX_PART_RECS records each, under fresh random names;
 * the first name goes to first (may be NULL). */
int vault_index_write(struct vault *v, struct blob_ctx *c, const struct bindex *bi,
		      const struct bindex_rec *recs, size_t n, char *first,
		      size_t firstlen);

/* Where blob id is stored (under bi->mu): 0, or -ENOENT when the index
 * has no committed copy.  name holds 80 bytes. */
int vault_blob_locate(struct bindex *bi, const uint8_t id[32], struct bloc *loc,
		      char *name);
/* Reads and opens one blob; *len gets the plaintext length. */
int vault_blob_read(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		    const uint8_t id[32], uint8_t type, uint8_t *out, size_t max,
		    size_t *len);

#endif
