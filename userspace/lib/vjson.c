// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vjson.h"

int vj_parse(const void *buf, size_t len, json_object **out)
{
	struct json_tokener *tok;
	json_object *o;

	if (len > INT32_MAX)
		return -EUCLEAN;
	tok = json_tokener_new_ex(64);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		return -EUCLEAN;
	}
	json_tokener_free(tok);
	*out = o;
	return 0;
}

int vj_str(json_object *o, const char *key, const char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EUCLEAN;
	*out = json_object_get_string(v);
	return 0;
}

int vj_i64(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EUCLEAN;
	errno = 0;
	*out = json_object_get_int64(v);
	return errno ? -EUCLEAN : 0;
}

int vj_u64(json_object *o, const char *key, uint64_t *out)
{
	int64_t v;
	int r = vj_i64(o, key, &v);

	if (r < 0 || v < 0)
		return -EUCLEAN;
	*out = (uint64_t)v;
	return 0;
}

int vj_hex(json_object *o, const char *key, void *out, size_t len)
{
	const char *s;

	if (vj_str(o, key, &s) < 0 || hex_decode(s, out, len) < 0)
		return -EUCLEAN;
	return 0;
}

int vj_array(json_object *o, const char *key, json_object **out, size_t *n)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return -EUCLEAN;
	*out = v;
	*n = json_object_array_length(v);
	return 0;
}

void vj_add_hex(json_object *o, const char *key, const void *p, size_t len)
{
	char *s = malloc(2 * len + 1);

	if (!s)
		return;
	hex_encode(p, len, s);
	json_object_object_add(o, key, json_object_new_string(s));
	free(s);
}

int vj_dump(json_object *o, char **out, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);

	if (!s)
		return -ENOMEM;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, s, n + 1);
	*len = n;
	return 0;
}
