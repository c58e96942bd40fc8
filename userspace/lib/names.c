// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <string.h>

#include "lib/names.h"

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
