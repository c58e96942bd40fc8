/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_BACKUP_H
#define CRYPTSNAP_VAULT_BACKUP_H

/*
 * Backup engine, a library API used by the scan-mode CLI and later by the
 * kernel-fed backup.  The caller takes buffers, fills them with whole
 * chunks of the source and submits them in increasing chunk order; chunks
 * never submitted keep their content from the base point (or are zero
 * without one).  Work runs in a pipeline: caller reads, worker threads
 * hash/dedup/encrypt straight into packs, a few threads put full packs.  finish() commits packs, then the
 * index, then the manifest: a crash before that leaves no visible point.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_manifest.h"

struct vault_backup;

struct vault_escrow_in {
	const char *name;
	int kind;			/* ESCROW_DEK, ESCROW_KEK or ESCROW_IMAGE */
	const uint8_t *data;
	size_t len;
};

struct vault_backup_opts {
	const char *disk;
	uint64_t image_size;
	const char *base_point;		/* optional: unchanged chunks come from it */
	int64_t retain_until;
	const struct vault_escrow_in *escrow;
	unsigned int nescrow;
	unsigned int threads;		/* 0: one per CPU */
	unsigned int puts;		/* packs put at once; 0: the backend's */
};

/* Where the time goes: wall time per stage, summed over threads. */
enum vault_backup_stage {
	BACKUP_STAGE_READ_WAIT,		/* caller waits for a free buffer */
	BACKUP_STAGE_WORK,		/* workers hash and seal */
	BACKUP_STAGE_WORK_WAIT,		/* workers idle */
	BACKUP_STAGE_PACK_WAIT,		/* workers wait for a pack buffer */
	BACKUP_STAGE_PUT,		/* puts in flight (summed over puts) */
	BACKUP_STAGE_COMMIT,		/* finish(): index and point */
	BACKUP_STAGES
};

struct vault_backup_stats {
	uint64_t bytes_done;		/* submitted bytes processed */
	uint64_t chunks_zero, chunks_new, chunks_dedup;
	uint64_t bytes_new, bytes_stored;
	uint64_t stage_ns[BACKUP_STAGES];
};

/* Takes a shared vault lock unless the caller holds one.  -ENOENT when the
 * base point is gone, -ESTALE when it needs blobs of packs that are gone
 * (then only a full backup can store them again). */
int vault_backup_begin(struct vault *v, const struct vault_backup_opts *o,
		       struct vault_backup **out);
uint32_t vault_backup_batch_chunks(const struct vault_backup *vb);
/* A buffer of batch_chunks * chunk_size bytes; NULL after an error. */
uint8_t *vault_backup_buffer(struct vault_backup *vb);
/* Hands buf (from vault_backup_buffer) over; chunk numbers must increase. */
int vault_backup_submit(struct vault_backup *vb, uint8_t *buf,
			uint64_t first_chunk, uint32_t nchunks);
int vault_backup_set_meta(struct vault_backup *vb, const char *key, const char *val);
/* Bytes processed so far, readable from any thread (atomically). */
const uint64_t *vault_backup_progress(struct vault_backup *vb);
void vault_backup_stats(struct vault_backup *vb, struct vault_backup_stats *st);
int vault_backup_finish(struct vault_backup *vb, char point_id[POINT_ID_MAX]);
/*
 * finish() in steps, for a caller that must check what is stored before
 * the point becomes visible.  seal() makes packs, segments, index and
 * escrow slots durable; no point is visible yet (no manifest).  Then
 * open_escrow() opens a slot into secmem (the caller frees it with
 * secmem_free) exactly as a later restore would: an image slot from the
 * stored image, through the restore engine and a freshly loaded index.
 * commit() publishes the point.
 */
int vault_backup_seal(struct vault_backup *vb);
int vault_backup_open_escrow(struct vault_backup *vb, const char *name,
			     uint8_t **data, size_t *len);
int vault_backup_commit(struct vault_backup *vb, char point_id[POINT_ID_MAX]);
/* Frees; after a failed or missing finish nothing becomes visible. */
void vault_backup_free(struct vault_backup *vb);

#endif
