// SPDX-License-Identifier: GPL-2.0
/* Small helpers with no state: hex, dates, ids, sizes, full I/O. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/crypto.h"
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
	long long v;

	if (s[0] == '@') {
		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (errno || *end || end == s + 1 || v < 0)
			return -EINVAL;
		*out = v;
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

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: return -EINVAL;
	}
	if (*end && strcmp(end, "iB") && strcmp(end, "B"))
		return -EINVAL;
	*out = v;
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
	char me[256] = "";

	gethostname(me, sizeof(me) - 1);
	if (strcmp(host, me) || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}
