/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_RESTORE_H
#define CRYPTSNAP_VAULT_RESTORE_H

/*
 * Reads a recovery point back: every segment and chunk is decrypted and
 * authenticated before a byte of it is written.  Also the engine behind
 * verify (no target, ids recomputed, keep going to count damage).
 * Workers decrypt units of up to 8 MiB ahead of the calling thread, which
 * writes them to the target in order; runs of chunks stored back to back
 * in a pack are read with one request.
 */
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_manifest.h"

struct vault_restore_opts {
	int fd;			/* target, or -1 to only check */
	int target_zeroed;	/* target reads as zeros: skip zero chunks */
	int zero_blkdev;	/* target is a block device: zero chunks by
				 * BLKZEROOUT (the device may unmap), written
				 * zeros where it is refused */
	int check_ids;		/* recompute each chunk's HMAC id */
	int keep_going;		/* count damage instead of stopping */
	unsigned int threads;	/* 0: one per CPU */
	uint64_t limit;		/* bytes: only the image's first limit bytes
				 * (whole chunks); 0: the whole image */
};

struct vault_restore_result {
	uint64_t bytes_done;		/* progress, updated while running */
	uint64_t chunks_bad;
	uint64_t first_bad_chunk;
	int first_err;
	uint64_t bytes_zeroout;		/* zero chunks done by BLKZEROOUT */
	uint64_t bytes_zero_written;	/* zero chunks written as zeros */
};

/* 0, or the first error; with keep_going, -EBADMSG when anything is bad. */
int vault_restore_run(struct vault *v, struct bindex *bi, const struct manifest *m,
		      const struct vault_restore_opts *o,
		      struct vault_restore_result *res);

/* The image's first len bytes into out, through the same engine. */
int vault_restore_head(struct vault *v, struct bindex *bi, const struct manifest *m,
		       uint8_t *out, size_t len);

struct escrow_slot;
/* An image slot's len bytes (escrow_image_len()) into out, checked. */
int vault_restore_image_slot(struct vault *v, struct bindex *bi, const struct manifest *m,
			     const struct escrow_slot *e, uint8_t *out, size_t len);

/*
 * Any escrow slot of point m opened as restore hands it out: sealed slots
 * through escrow_open(), image slots from the image, checked against the
 * hash they record.  A sealed slot (a secret) comes in secure memory, to
 * be secmem_free()d; an image slot (a LUKS header area, up to 16 MiB, no
 * secret) is malloc'ed: vault_restore_escrow_free() frees either.
 */
struct blob_ctx;
struct escrow_slot;
int vault_restore_escrow(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			 const struct manifest *m, const struct escrow_slot *e,
			 uint8_t **data, size_t *len);
void vault_restore_escrow_free(const struct escrow_slot *e, uint8_t *data, size_t len);

#endif
