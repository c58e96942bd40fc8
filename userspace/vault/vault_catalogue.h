/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_CATALOGUE_H
#define CRYPTSNAP_VAULT_CATALOGUE_H

/*
 * The catalogue of points (docs/vault-format.md, "Catalogue of points"):
 * immutable sealed versions catalogue/<counter, 16 hex>.cat, each listing
 * every point id with the SHA-256 of its stored manifest object.  A writer
 * publishes version N+1 with put_new, so two writers under shared locks
 * never overwrite each other: the loser re-reads N+1 and retries.  The
 * host keeps the highest counter it saw (sys/vault_seen.h) and refuses a
 * lower one.
 *
 * Saving a manifest is three steps (vault_point_save): the catalogue
 * announces the new hash (a new point is "pending", a rewrite gets "next"),
 * the manifest is put, the catalogue confirms.  Deleting: "deleting", the
 * delete, the entry removed.  A crash in between leaves a state check()
 * accepts.
 */
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

#define CATALOGUE_KEEP	8	/* versions kept behind the newest */

enum cat_state { CAT_OK = 0, CAT_PENDING = 1, CAT_DELETING = 2 };

struct cat_entry {
	char id[POINT_ID_MAX];
	uint8_t hash[32], next[32];
	uint8_t has_next, state;
};

struct catalogue {
	uint64_t counter;
	struct cat_entry *e;
	size_t n, cap;
};

/* Codec (payload of one version), strict. */
int catalogue_encode(const struct catalogue *cat, char **out, size_t *len);
int catalogue_decode(const char *buf, size_t len, uint64_t counter,
		     struct catalogue *cat);
void catalogue_free(struct catalogue *cat);
struct cat_entry *catalogue_find(struct catalogue *cat, const char *id);

enum cat_op { CAT_BEGIN_SAVE, CAT_END_SAVE, CAT_BEGIN_DELETE, CAT_END_DELETE };
/* Applies one step to the newest version and publishes the next one. */
int vault_catalogue_update(struct vault *v, struct blob_ctx *c, enum cat_op op,
			   const char *id, const uint8_t hash[32]);

/* Before a command writes: builds the catalogue from the points present
 * when the vault has none and this host never saw one (*built = number of
 * points listed, else 0); refuses (-EUCLEAN, why filled) a missing or
 * rolled-back catalogue this host saw newer. */
int vault_catalogue_ensure(struct vault *v, struct blob_ctx *c, uint64_t *built,
			   char *why, size_t whylen);

struct cat_check {
	uint64_t counter, seen;
	int absent;			/* no catalogue, none seen: older vault */
	struct name_list damage;	/* one line each */
};

/* Compares the newest version with the host's counter and the points
 * present.  0 with damage lines filled; < 0 only when it cannot read. */
int vault_catalogue_check(struct vault *v, struct blob_ctx *c, struct cat_check *out);
void cat_check_free(struct cat_check *out);

/* SHA-256 of a stored object's bytes; -ENOENT when absent. */
int vault_object_hash(struct vault *v, const char *name, size_t max, uint8_t h[32]);

#endif
