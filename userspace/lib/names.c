// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/names.h"

#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

int name_chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s), i;

	if (!n || n > max || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

int disk_name_valid(const char *name)
{
	return name_chars_ok(name, DISK_NAME_MAX, "-_.");
}

void host_name_normalize(const char *in, char *out, size_t len)
{
	size_t n = 0, max = MIN_SIZE(len - 1, HOST_NAME_NORM_MAX);

	if (!len)
		return;
	for (; in && in[n] && n < max; n++) {
		char c = (char)tolower((unsigned char)in[n]);

		out[n] = (isalnum((unsigned char)c) && !(c & 0x80)) || c == '.' || c == '-' ? c : '-';
	}
	while (n && out[n - 1] == '.')
		n--;
	out[n] = 0;
	if (!n || out[0] == '.' || out[0] == '-')
		snprintf(out, len, "unknown");
}

void host_name_self(char *out, size_t len)
{
	char raw[256] = "";

	gethostname(raw, sizeof(raw) - 1);
	host_name_normalize(raw, out, len);
}

int host_name_valid(const char *s)
{
	char norm[HOST_NAME_NORM_MAX + 1];

	host_name_normalize(s, norm, sizeof(norm));
	return strlen(s) <= HOST_NAME_NORM_MAX && !strcmp(s, norm) &&
	       name_chars_ok(s, HOST_NAME_NORM_MAX, ".-");
}
