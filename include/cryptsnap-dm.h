/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Interface between dm-cryptsnap.ko and the cryptsnap tool: target names,
 * table grammar limits, message verbs and status field order.  Shared by
 * the kernel module and userspace; keep it free of kernel-only and
 * libc-only types.
 */
#ifndef CRYPTSNAP_DM_H
#define CRYPTSNAP_DM_H

#define CRYPTSNAP_TARGET_NAME		"cryptsnap"
#define CRYPTSNAP_VERSION_MAJOR		1
#define CRYPTSNAP_VERSION_MINOR		0
#define CRYPTSNAP_VERSION_PATCH		0

/* Chunk size, in 512-byte sectors: a power of two in [8, 16384] (4 KiB .. 8 MiB). */
#define CRYPTSNAP_CHUNK_SECTORS_MIN	8U
#define CRYPTSNAP_CHUNK_SECTORS_MAX	16384U
#define CRYPTSNAP_CHUNK_SECTORS_DEFAULT	128U	/* 64 KiB */

/* Maximum number of optional feature arguments in a table line. */
#define CRYPTSNAP_MAX_FEATURE_ARGS	8U

#endif /* CRYPTSNAP_DM_H */
