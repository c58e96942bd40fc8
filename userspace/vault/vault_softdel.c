// SPDX-License-Identifier: GPL-2.0
/* Soft delete and the retention lock (vault_softdel.h). */
#include <errno.h>
#include <string.h>

#include "vault/vault_blob.h"
#include "vault/vault_pin.h"
#include "vault/vault_points.h"
#include "vault/vault_softdel.h"

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int vault_softdel_settings(struct vault *v, struct softdel_settings *out)
{
	struct vault_pin pin;
	int r = vault_pin_load(v, &pin);

	if (r == -ENOENT)
		memset(&pin, 0, sizeof(pin));
	else if (r < 0)
		return r;
	out->locked = v->retention_lock || (pin.has_retention && pin.retention_lock);
	out->floor = v->deleted_grace;
	if (pin.has_retention)
		out->floor = max64(out->floor, pin.deleted_grace);
	out->grace = out->floor;
	if (v->grace_override >= 0) {
		if (out->locked && v->grace_override < out->floor)
			return -EPERM;
		out->grace = v->grace_override;
	}
	return 0;
}

int vault_softdel_pin(struct vault *v)
{
	struct vault_pin pin;
	int r = vault_pin_load(v, &pin);

	if (r < 0)
		return r;
	if (!pin.has_retention) {
		pin.has_retention = 1;
		pin.deleted_grace = v->deleted_grace;
		pin.retention_lock = v->retention_lock;
	} else if ((v->retention_lock || pin.retention_lock) &&
		   (!pin.retention_lock || v->deleted_grace > pin.deleted_grace)) {
		pin.retention_lock = 1;
		pin.deleted_grace = max64(pin.deleted_grace, v->deleted_grace);
	} else {
		return 0;
	}
	return vault_pin_save(v, &pin);
}

int vault_softdel_configure(struct vault *v, int set_grace, int64_t grace, int lock)
{
	struct softdel_settings s;
	struct vault_pin pin;
	int r;

	if (set_grace && (grace < 0 || grace > VAULT_GRACE_MAX))
		return -EINVAL;
	v->grace_override = -1;
	r = vault_softdel_settings(v, &s);
	if (!r && s.locked && set_grace && grace < s.floor)
		r = -EPERM;
	if (!r)
		r = vault_pin_load(v, &pin);
	if (r < 0)
		return r;
	v->deleted_grace = set_grace ? grace : s.floor;
	v->retention_lock = s.locked || lock;
	r = vault_config_write(v);
	if (r < 0)
		return r;
	pin.has_retention = 1;
	pin.deleted_grace = v->deleted_grace;
	pin.retention_lock = v->retention_lock;
	return vault_pin_save(v, &pin);
}

int vault_point_set_deleted(struct vault *v, const char *id, int64_t when)
{
	struct manifest m;
	struct blob_ctx c;
	int r = blob_ctx_init(&c, v);

	if (r < 0)
		return r;
	r = vault_point_load(v, &c, id, &m);
	if (!r) {
		if (!m.deleted == !when)
			r = -EALREADY;
		else {
			m.deleted = when;
			r = vault_point_save(v, &c, &m);
		}
		manifest_free(&m);
	}
	blob_ctx_free(&c);
	return r;
}

int64_t softdel_purge_time(const struct manifest *m, int64_t grace)
{
	int64_t t = m->deleted > INT64_MAX - grace ? INT64_MAX : m->deleted + grace;

	return max64(t, m->retain_until);
}
