// SPDX-License-Identifier: GPL-2.0
/* Small helpers with no state: hex, dates, ids, sizes, full I/O. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/names.h"
#include "lib/util.h"

void hex_encode(const void *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = in;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode_n(const char *in, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = nibble(in[2 * i]), lo;

		if (hi < 0)
			return -EINVAL;
		lo = nibble(in[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode(const char *in, void *out, size_t len)
{
	if (!in || strlen(in) != 2 * len)
		return -EINVAL;
	return hex_decode_n(in, out, len);
}

int hex_decode_alloc(const char *in, uint8_t **out, size_t *len)
{
	size_t n;
	int r;

	if (!in || strlen(in) % 2)
		return -EINVAL;
	n = strlen(in) / 2;
	*out = malloc(n ? n : 1);
	if (!*out)
		return -ENOMEM;
	r = hex_decode_n(in, *out, n);
	if (r < 0) {
		free(*out);
		*out = NULL;
		return r;
	}
	*len = n;
	return 0;
}

int buf_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!len)
		return 1;
	/* Compare the buffer with itself shifted by one byte: fast memcmp. */
	return p[0] == 0 && !memcmp(p, p + 1, len - 1);
}

int parse_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	char *end;

	if (s[0] == '@') {
		uint64_t v;
		int r = parse_u64(s + 1, 0, INT64_MAX, &v);

		if (r)
			return r;
		*out = (int64_t)v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end)
		return -EINVAL;
	if (!*end) {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
	} else {
		end = strptime(end, "T%H:%M:%S", &tm);
		if (!end || (*end && strcmp(end, "Z")))
			return -EINVAL;
	}
	*out = timegm(&tm);
	return *out < 0 ? -EINVAL : 0;
}

void format_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "@%lld", (long long)t);
}

void format_bytes(uint64_t n, char *out, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)n);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t v;
	int r = parse_u64(s, min, max, &v);

	if (!r)
		*out = (unsigned int)v;
	return r;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgtp";
	char digits[24];
	const char *u;
	size_t n = strspn(s ? s : "", "0123456789");
	unsigned int shift = 0;
	uint64_t v;
	int r;

	if (!n || n >= sizeof(digits))
		return n ? -ERANGE : -EINVAL;
	memcpy(digits, s, n);
	digits[n] = 0;
	r = parse_u64(digits, 0, UINT64_MAX, &v);
	if (r)
		return r;
	u = s + n;
	if (*u && *u != 'B') {
		const char *k = strchr(units, *u | 0x20);

		if (!k)
			return -EINVAL;
		shift = 10 * (unsigned int)(k - units + 1);
		u++;
		if (*u && strcmp(u, "B") && strcmp(u, "iB"))
			return -EINVAL;
	} else if (*u && strcmp(u, "B")) {
		return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void make_time_id(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	uint8_t rnd[4] = { 0 };
	char hex[9], ts[24];
	struct tm tm;

	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), hex);
	gmtime_r(&tt, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, len, "%s-%s", ts, hex);
}

int pid_stale(const char *host, long pid)
{
	char me[HOST_NAME_NORM_MAX + 1], them[HOST_NAME_NORM_MAX + 1];

	host_name_self(me, sizeof(me));
	host_name_normalize(host, them, sizeof(them));
	if (strcmp(them, me) || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}
