/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_UTIL_H
#define CRYPTSNAP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Lower-case hex; out must hold 2 * len + 1 bytes. */
void hex_encode(const void *in, size_t len, char *out);
/* Exactly 2 * len hex digits; -EINVAL otherwise. */
int hex_decode(const char *in, void *out, size_t len);
/* Any even-length hex string; *out is malloc'ed. */
int hex_decode_alloc(const char *in, uint8_t **out, size_t *len);

/* True when every byte of buf is zero. */
int buf_is_zero(const void *buf, size_t len);

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" (UTC) or "@SECONDS". A bare date
 * means the end of that day. */
int parse_date(const char *s, int64_t *out);
void format_time(int64_t t, char *out, size_t len);

/* Human readable byte count, e.g. "1.5 GiB". */
void format_bytes(uint64_t n, char *out, size_t len);

/*
 * Strict numbers, the only parsers of numbers given on a command line or
 * read as text: decimal digits only (no sign, space, prefix or empty
 * string), no overflow.  -EINVAL when malformed, -ERANGE when outside
 * min..max.  *out is set only on success.
 */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out);
/* A size: digits, an optional unit K, M, G, T, P (powers of 1024, either
 * case) and an optional "B" or "iB" after a unit ("B" alone is bytes).
 * -ERANGE when it does not fit 64 bits. */
int parse_size(const char *s, uint64_t *out);

/* Length of chunk c of an image of image_size bytes: the last may be short. */
static inline uint32_t chunk_len(uint32_t chunk_size, uint64_t image_size, uint64_t c)
{
	return (uint32_t)MIN((uint64_t)chunk_size, image_size - c * chunk_size);
}

/* "YYYYMMDDTHHMMSSZ-<8 hex>": time t (UTC) and 32 random bits, the form of
 * point, job and log ids; sorts by time. */
void make_time_id(int64_t t, char *out, size_t len);

/* 1 when host is this machine and no process pid runs on it: a stale
 * owner.  0 for another host (cannot tell) or a live pid. */
int pid_stale(const char *host, long pid);

/* Full read/write helpers that retry on EINTR and short transfers. */
int pread_full(int fd, void *buf, size_t len, uint64_t off);
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
int write_full(int fd, const void *buf, size_t len);

#endif
