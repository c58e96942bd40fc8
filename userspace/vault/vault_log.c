// SPDX-License-Identifier: GPL-2.0
/*
 * Activity log of key changes: one small object per event,
 * "log/<seq>-<rand>.json" (seq: 12 decimal digits), so appending never
 * rewrites shared state.  Each event carries
 *   mac = HMAC-SHA-256(log key, "cryptsnap-log-v1" | seq | time | uid |
 *         kek_gen | event | detail | prev)
 * with the log key HMAC(MAC key, "cryptsnap-log-key-v1") (the MAC key
 * lives as long as the vault) and prev = the mac of the event before, so
 * an edited, planted or removed event breaks the chain.  The host keeps
 * the newest seq/mac it wrote in its pin: removing the newest events is
 * noticed too.  At most LOG_KEEP events are kept; the writer that passes
 * it deletes the oldest and says so in a signed "log-trimmed" event
 * naming the first seq kept.  Events of older builds
 * ("log/<time>-<rand>.json", no mac) are listed as unauthenticated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_keys.h"
#include "vault/vault_log.h"
#include "vault/vault_pin.h"

#define LOG_PREFIX	"log/"
#define LOG_EVENT_MAX	4096
#define SEQ_DIGITS	12

unsigned int vault_log_keep = LOG_KEEP, vault_log_trim = LOG_TRIM;

static const char log_key_label[] = "cryptsnap-log-key-v1";
static const char log_mac_label[16] = "cryptsnap-log-v1";

static int log_mac(const struct vault *v, const struct log_event *e, uint8_t out[32])
{
	struct crypto_hmac *h;
	uint8_t *key, num[8 * 4];
	char *buf;
	size_t el = strlen(e->event), dl = strlen(e->detail), n;
	int r;

	key = secmem_alloc(CRYPTO_KEY_LEN);
	if (!key)
		return -ENOMEM;
	r = crypto_hmac_new(v->keys->mac, &h);
	if (!r) {
		r = crypto_hmac(h, NULL, 0, log_key_label, sizeof(log_key_label) - 1, key);
		crypto_hmac_free(h);
	}
	if (!r)
		r = crypto_hmac_new(key, &h);
	secmem_free(key);
	if (r < 0)
		return r;
	n = sizeof(log_mac_label) + sizeof(num) + 8 + el + 8 + dl + 32;
	buf = malloc(n);
	if (!buf) {
		crypto_hmac_free(h);
		return -ENOMEM;
	}
	put_le64(num, e->seq);
	put_le64(num + 8, (uint64_t)e->time);
	put_le64(num + 16, e->uid);
	put_le64(num + 24, e->kek_gen);
	memcpy(buf, log_mac_label, sizeof(log_mac_label));
	memcpy(buf + 16, num, sizeof(num));
	put_le64((uint8_t *)buf + 48, el);
	memcpy(buf + 56, e->event, el);
	put_le64((uint8_t *)buf + 56 + el, dl);
	memcpy(buf + 64 + el, e->detail, dl);
	memcpy(buf + 64 + el + dl, e->prev, 32);
	r = crypto_hmac(h, NULL, 0, buf, n, out);
	crypto_hmac_free(h);
	free(buf);
	return r;
}

/* "log/000000000042-1a2b3c4d.json" -> 42; 0 for any other name. */
static uint64_t name_seq(const char *name)
{
	const char *p = name + strlen(LOG_PREFIX);
	uint64_t seq = 0;
	int i;

	if (strncmp(name, LOG_PREFIX, strlen(LOG_PREFIX)))
		return 0;
	for (i = 0; i < SEQ_DIGITS; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		seq = seq * 10 + (uint64_t)(p[i] - '0');
	}
	return p[SEQ_DIGITS] == '-' ? seq : 0;
}

static int event_parse(const char *name, const void *buf, size_t len, struct log_event *e)
{
	const char *ev, *d;
	json_object *o;
	uint64_t u, g;
	int r;

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	r = vj_parse(buf, len, &o);
	if (r < 0)
		return r;
	r = -EUCLEAN;
	if (vj_str(o, "event", &ev) || vj_str(o, "detail", &d) || vj_i64(o, "time", &e->time) ||
	    strlen(ev) >= sizeof(e->event) || strlen(d) >= sizeof(e->detail))
		goto out;
	snprintf(e->event, sizeof(e->event), "%s", ev);
	snprintf(e->detail, sizeof(e->detail), "%s", d);
	if (!vj_u64(o, "uid", &u))
		e->uid = u;
	if (!vj_u64(o, "kek_gen", &g))
		e->kek_gen = g;
	e->seq = name_seq(name);
	r = 0;
	if (!e->seq)
		goto out;	/* an older build's event: no chain */
	r = -EUCLEAN;
	if (vj_u64(o, "seq", &u) || u != e->seq || vj_hex(o, "prev", e->prev, 32) ||
	    vj_hex(o, "mac", e->mac, 32))
		goto out;
	e->chained = 1;
	r = 0;
out:
	json_object_put(o);
	return r;
}

void log_events_free(struct log_events *l)
{
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

static int by_seq(const void *a, const void *b)
{
	const struct log_event *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every event object; unreadable or malformed ones are kept as damaged. */
int vault_log_read(struct vault *v, struct log_events *out)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, LOG_PREFIX, &l);

	memset(out, 0, sizeof(*out));
	/* One spare slot: vault_log_event() may add the event it wrote. */
	if (!r && !(out->ev = calloc(l.n + 1, sizeof(*out->ev))))
		r = -ENOMEM;
	for (i = 0; !r && i < l.n; i++) {
		struct log_event *e = &out->ev[out->n++];
		void *buf;
		size_t len;

		if (backend_get(v->be, l.names[i], LOG_EVENT_MAX, &buf, &len) < 0 ||
		    (event_parse(l.names[i], buf, len, e) < 0 && (free(buf), 1))) {
			memset(e, 0, sizeof(*e));
			snprintf(e->name, sizeof(e->name), "%s", l.names[i]);
			e->seq = name_seq(l.names[i]);
			e->damaged = 1;
			continue;
		}
		free(buf);
	}
	name_list_free(&l);
	if (r < 0) {
		log_events_free(out);
		return r;
	}
	qsort(out->ev, out->n, sizeof(*out->ev), by_seq);
	return 0;
}

static int prev_ok(const struct log_events *l, size_t i)
{
	const struct log_event *e = &l->ev[i];
	size_t j;

	for (j = 0; j < i; j++)
		if (l->ev[j].chained && l->ev[j].seq + 1 == e->seq &&
		    !memcmp(l->ev[j].mac, e->prev, 32))
			return 1;
	return 0;
}

/* First seq kept by the newest trim, from a verified "log-trimmed". */
static uint64_t trimmed_to(const struct log_events *l)
{
	uint64_t first = 1;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->ev[i].verified && !strcmp(l->ev[i].event, "log-trimmed"))
			first = strtoull(l->ev[i].detail + strlen("first kept "), NULL, 10);
	return first;
}

int vault_log_verify(struct vault *v, struct log_events *l, char *why, size_t whylen)
{
	static const uint8_t zero[32];
	uint64_t first = 0, last = 0, expect;
	struct vault_pin pin;
	uint8_t mac[32];
	size_t i;
	int r;

	for (i = 0; i < l->n; i++) {
		struct log_event *e = &l->ev[i];

		if (e->damaged) {
			snprintf(why, whylen, "event %s is unreadable or malformed", e->name);
			return -EBADMSG;
		}
		if (!e->chained)
			continue;
		r = log_mac(v, e, mac);
		if (r < 0)
			return r;
		if (memcmp(mac, e->mac, 32)) {
			snprintf(why, whylen, "event %" PRIu64 " fails authentication", e->seq);
			return -EBADMSG;
		}
		e->verified = 1;
		first = first ? first : e->seq;
		last = e->seq;
	}
	expect = first ? trimmed_to(l) : 0;
	if (first && first != expect) {
		snprintf(why, whylen, "events before %" PRIu64 " were removed", first);
		return -EBADMSG;
	}
	for (i = 0; i < l->n; i++) {
		const struct log_event *e = &l->ev[i];

		if (!e->chained)
			continue;
		if (e->seq > expect && e->seq != expect + 1) {
			snprintf(why, whylen, "event %" PRIu64 " is missing", expect + 1);
			return -EBADMSG;
		}
		expect = e->seq;
		if (e->seq == 1 ? memcmp(e->prev, zero, 32) :
		    e->seq != first && !prev_ok(l, i)) {
			snprintf(why, whylen, "chain broken at event %" PRIu64, e->seq);
			return -EBADMSG;
		}
	}
	if (!vault_pin_load(v, &pin) && pin.log_seq) {
		int seen = 0;

		for (i = 0; i < l->n; i++)
			seen |= l->ev[i].verified && l->ev[i].seq == pin.log_seq &&
				!memcmp(l->ev[i].mac, pin.log_mac, 32);
		if (!seen && pin.log_seq >= first) {
			snprintf(why, whylen, "event %" PRIu64 " written by this host is gone%s",
				 pin.log_seq, pin.log_seq > last ? " (newest events removed)" : "");
			return -EBADMSG;
		}
	}
	return 0;
}

static int put_event(struct vault *v, const struct log_event *e)
{
	json_object *o = json_object_new_object();
	char name[64], rnd[9], *s;
	uint8_t rb[4];
	size_t n;
	int r;

	r = crypto_random(rb, sizeof(rb));
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	hex_encode(rb, sizeof(rb), rnd);
	snprintf(name, sizeof(name), LOG_PREFIX "%0*" PRIu64 "-%s.json", SEQ_DIGITS, e->seq, rnd);
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
	json_object_object_add(o, "time", json_object_new_int64(e->time));
	json_object_object_add(o, "event", json_object_new_string(e->event));
	json_object_object_add(o, "detail", json_object_new_string(e->detail));
	json_object_object_add(o, "uid", json_object_new_int64((int64_t)e->uid));
	json_object_object_add(o, "kek_gen", json_object_new_int64((int64_t)e->kek_gen));
	vj_add_hex(o, "prev", e->prev, 32);
	vj_add_hex(o, "mac", e->mac, 32);
	r = vj_dump(o, &s, &n);
	json_object_put(o);
	if (r < 0)
		return r;
	r = backend_put(v->be, name, s, n);
	if (!r)
		crashpoint("log.event-written");
	free(s);
	return r;
}

static int append(struct vault *v, const struct log_events *l, const char *event,
		  const char *detail, struct log_event *e)
{
	size_t i;
	int r;

	memset(e, 0, sizeof(*e));
	e->seq = 1;
	for (i = 0; i < l->n; i++)
		if (l->ev[i].chained && l->ev[i].seq >= e->seq) {
			e->seq = l->ev[i].seq + 1;
			memcpy(e->prev, l->ev[i].mac, 32);
		}
	e->time = time(NULL);
	e->uid = getuid();
	e->kek_gen = v->keys->gen;
	snprintf(e->event, sizeof(e->event), "%s", event);
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	r = log_mac(v, e, e->mac);
	return r ? r : put_event(v, e);
}

/* Past LOG_KEEP chained events: delete the oldest down to LOG_KEEP -
 * LOG_TRIM and sign where the log now starts. */
static int trim(struct vault *v, struct log_events *l, struct log_event *last)
{
	size_t i, chained = 0, drop;
	char detail[64];

	for (i = 0; i < l->n; i++)
		chained += l->ev[i].chained;
	if (chained + 1 <= vault_log_keep)
		return 0;
	drop = chained + 1 - (vault_log_keep - vault_log_trim);
	for (i = 0; i < l->n && drop; i++) {
		if (!l->ev[i].chained)
			continue;
		snprintf(detail, sizeof(detail), "first kept %" PRIu64, l->ev[i].seq + 1);
		if (!backend_del(v->be, l->ev[i].name))
			crashpoint("log.event-trimmed");
		l->ev[i].chained = 0;
		drop--;
	}
	l->ev[l->n++] = *last;		/* the spare slot of vault_log_read() */
	return append(v, l, "log-trimmed", detail, last);
}

int vault_log_event(struct vault *v, const char *event, const char *detail)
{
	struct log_events l;
	struct log_event e;
	struct vault_pin pin;
	int r;

	if (!v->keys)
		return -ENOKEY;
	r = vault_log_read(v, &l);
	if (r < 0)
		return r;
	r = append(v, &l, event, detail, &e);
	if (!r)
		r = trim(v, &l, &e);
	log_events_free(&l);
	if (r < 0)
		return r;
	if (!vault_pin_load(v, &pin) && vault_pin_matches(&pin.cur, v->keys)) {
		pin.log_seq = e.seq;
		memcpy(pin.log_mac, e.mac, 32);
		r = vault_pin_save(v, &pin);
	}
	return r;
}
