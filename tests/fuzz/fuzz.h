/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_FUZZ_H
#define CRYPTSNAP_FUZZ_H

/* Shared by the libFuzzer harnesses of tests/fuzz/ (Makefile there). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (parsers of text take NUL-terminated input);
 * an embedded NUL simply ends the text early, as it would for the tool. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

#endif
