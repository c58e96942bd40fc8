/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VJSON_H
#define CRYPTSNAP_VJSON_H

/* Strict getters for vault JSON documents: a missing field or a wrong type
 * is -EUCLEAN (structurally damaged), never a crash. */
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

int vj_parse(const void *buf, size_t len, json_object **out);
int vj_str(json_object *o, const char *key, const char **out);
int vj_u64(json_object *o, const char *key, uint64_t *out);
int vj_i64(json_object *o, const char *key, int64_t *out);
int vj_hex(json_object *o, const char *key, void *out, size_t len);
int vj_array(json_object *o, const char *key, json_object **out, size_t *n);
void vj_add_hex(json_object *o, const char *key, const void *p, size_t len);
/* Serialised form, plain (not pretty) so it can be MAC'ed or encrypted. */
int vj_dump(json_object *o, char **out, size_t *len);

#endif
