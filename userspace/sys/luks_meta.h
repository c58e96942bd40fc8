/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_LUKS_META_H
#define CRYPTSNAP_LUKS_META_H

/*
 * What a backup can tell about a LUKS header from its bytes alone, without
 * libcryptsetup and without any key: the header area is parsed as found at
 * the snapshot (LUKS1, or LUKS2 with both binary header copies and the
 * JSON area).  Writes by cryptsetup go straight to the device, below the
 * cryptsnap target, so the change map never sees them; these fingerprints
 * are how the next backup notices them.
 *
 *  - header: SHA-256 of the whole header area.  Any change (keyslot,
 *    token, label) changes it.  Backups re-read the area every time
 *    anyway; this tells the log what happened.
 *  - layout: SHA-256 over what decides where and how the data is
 *    encrypted: UUID, cipher, data segments (offset, size, sector size,
 *    IV tweak, flags), the volume-key digests and reencryption
 *    requirements.  Not keyslots, tokens or labels.  When it changes
 *    (reencryption, a reformat, a header of another volume restored), the
 *    ciphertext of unchanged chunks may have changed below the target:
 *    the next backup must be a full scan.
 *
 * Pure code (parsing and hashing): unit-tested on the host.  Bounded:
 * nothing beyond len bytes is read, and a malformed header is -EINVAL.
 */
#include <stddef.h>
#include <stdint.h>

#define LUKS_META_HASH_HEX	65

struct luks_meta {
	int version;			/* 1 or 2 */
	char uuid[40];
	uint64_t seqid;			/* LUKS2 header sequence id; 0 for LUKS1 */
	uint64_t data_offset;		/* bytes; lowest data segment offset */
	uint64_t area;			/* bytes of header area the layout spans */
	uint8_t layout[32];
	uint8_t header[32];		/* over the len bytes given */
};

/*
 * Parses hdr[0..len) (the device's first len bytes, at least the whole
 * header area).  LUKS2: the valid copy with the highest sequence id wins;
 * a copy whose checksum does not match is ignored.
 */
int luks_meta_parse(const uint8_t *hdr, size_t len, struct luks_meta *m);
/* 64 hex digits and a NUL. */
void luks_meta_hex(const uint8_t h[32], char out[LUKS_META_HASH_HEX]);

#endif
