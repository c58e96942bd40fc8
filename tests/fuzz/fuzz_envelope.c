// SPDX-License-Identifier: GPL-2.0
/*
 * Binary decoders of vault objects: byte 0 picks one.
 *   0: a blob envelope (vault_blob.c) opened with a fixed key; the next
 *      33 bytes are its type and id.  A forged envelope never opens.
 *   1: a point segment (vault_seg.c): 2 bytes (LE) give its chunk count
 *      less one, 1..4096 (a point's last segment may be short).
 *   2: the record headers of a format-2 pack (vault_pack.c), walked the
 *      way repair walks them.
 *   3: the rotation journal (vault_rotate.c).
 */
#include "fuzz.h"
#include "vault/vault_blob.h"
#include "vault/vault_pack.h"
#include "vault/vault_rotate.h"
#include "vault/vault_seg.h"

#define SEG_N 4096
#define MAX_BLOB (65536 + BLOB_OVERHEAD)

static const uint8_t key[32] = { 1, 2, 3, 4 };
static const uint8_t vault_id[16] = { 5, 6, 7, 8 };

static void envelope(const uint8_t *d, size_t n)
{
	uint8_t *in, *out;

	if (n < 33)
		return;
	in = malloc(n - 33 + 1);
	out = malloc(n);
	if (!in || !out)
		abort();
	memcpy(in, d + 33, n - 33);
	if (!blob_open_key(key, vault_id, d[0], d + 1, in, n - 33, out))
		abort();	/* nobody without the key makes one that opens */
	free(out);
	free(in);
}

static void segment(const uint8_t *d, size_t n)
{
	seg_id_t *ids = malloc(SEG_N * sizeof(*ids));
	uint8_t *buf = malloc(n ? n : 1);
	uint32_t chunks;

	if (!ids || !buf)
		abort();
	if (n < 2)
		goto out;
	chunks = 1 + (uint32_t)(d[0] | d[1] << 8) % SEG_N;
	memcpy(buf, d + 2, n - 2);
	seg_decode(buf, n - 2, chunks, ids);
out:
	free(buf);
	free(ids);
}

static void pack(const uint8_t *d, size_t n)
{
	uint8_t id[32], type;
	uint32_t len;
	size_t off = PACK_HDR_LEN;

	if (n < PACK_HDR_LEN || memcmp(d, "CSPK", 4) || d[4] != PACK_VERSION)
		return;
	while (n - off >= PACK_REC_LEN &&
	       !pack_rec_decode(d + off, MAX_BLOB, id, &len, &type)) {
		if (len < BLOB_OVERHEAD || len > MAX_BLOB)
			abort();
		if (n - off - PACK_REC_LEN < len)
			break;
		off += PACK_REC_LEN + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t gen;

	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		envelope(data + 1, size - 1);
		break;
	case 1:
		segment(data + 1, size - 1);
		break;
	case 2:
		pack(data + 1, size - 1);
		break;
	case 3:
		if (!rotate_journal_decode(data + 1, size - 1, &gen) && !gen)
			abort();
		break;
	}
	return 0;
}
