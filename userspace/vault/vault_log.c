// SPDX-License-Identifier: GPL-2.0
/* Activity log of key changes: one small plaintext object per event,
 * "log/<time>-<rand>.json", so appending never rewrites shared state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_keys.h"

int vault_log_event(struct vault *v, const char *event, const char *detail)
{
	json_object *o = json_object_new_object();
	char name[96], id[32], *s;
	time_t now = time(NULL);
	size_t n;
	int r;

	make_time_id(now, id, sizeof(id));
	snprintf(name, sizeof(name), "log/%s.json", id);
	json_object_object_add(o, "time", json_object_new_int64(now));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "detail", json_object_new_string(detail ? detail : ""));
	json_object_object_add(o, "uid", json_object_new_int((int)getuid()));
	if (v->keys) {
		json_object_object_add(o, "kek_gen", json_object_new_int64(v->keys->gen));
		vj_add_hex(o, "kek_fingerprint", v->keys->fp, 8);
	}
	r = vj_dump(o, &s, &n);
	json_object_put(o);
	if (r < 0)
		return r;
	r = backend_put(v->be, name, s, n);
	free(s);
	return r;
}

int vault_log_list(struct vault *v, struct name_list *events)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, "log/", &l);

	for (i = 0; !r && i < l.n; i++) {
		void *buf;
		size_t len;
		char *s;

		if (backend_get(v->be, l.names[i], 4096, &buf, &len) < 0)
			continue;
		s = strndup(buf, len);
		free(buf);
		r = s ? name_list_add(events, s) : -ENOMEM;
		free(s);
	}
	name_list_free(&l);
	return r;
}
