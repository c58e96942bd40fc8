// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file, parsed with libinih (the only file that uses
 * it).  inih splits lines into sections and "name = value" pairs; this
 * file feeds it one line at a time through its own reader, which counts
 * lines (inih's handler has no line number), checks what inih does not
 * report per line (section headers, lines that are not a pair) and lets
 * every error be collected rather than only the first.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/config.h"
#include "lib/names.h"
#include "lib/util.h"

#define DEFAULTS	(-1)	/* cur: [defaults] */
#define NOWHERE		(-2)	/* cur: before any section, or after a bad header */
#define NKEYS		20

struct parse {
	struct config *c;
	FILE *f;
	char *buf;
	size_t cap;
	int lineno;
	int pending;		/* line lineno holds a pair inih has not handed over yet */
	long cur;		/* DEFAULTS, NOWHERE or an index in c->disks */
	int cur_bad;		/* NOWHERE because of a reported bad header */
	int defaults_line;
	int key_line[NKEYS];	/* where the current section set each key */
	int oom;
};

/* K_VAULT: an absolute path or an s3:// URL; K_TEXT: printable, no space. */
enum kind { K_PATH, K_SIZE, K_CHUNK, K_COUNT, K_SCHEDULE, K_VAULT, K_TEXT };

static const struct key {
	const char *name;
	unsigned int bit;
	enum kind kind;
	size_t off;		/* of the field in struct config_section */
} keys[NKEYS] = {
	{ "vault", CFG_VAULT, K_VAULT, offsetof(struct config_section, vault) },
	{ "kek", CFG_KEK, K_PATH, offsetof(struct config_section, kek) },
	{ "cow-dir", CFG_COW_DIR, K_PATH, offsetof(struct config_section, cow_dir) },
	{ "cow-size", CFG_COW_SIZE, K_SIZE, offsetof(struct config_section, cow_size) },
	{ "chunk-size", CFG_CHUNK_SIZE, K_CHUNK, offsetof(struct config_section, chunk_size) },
	{ "schedule", CFG_SCHEDULE, K_SCHEDULE, offsetof(struct config_section, schedule) },
	{ "keep-last", CFG_KEEP_LAST, K_COUNT, offsetof(struct config_section, keep_last) },
	{ "keep-daily", CFG_KEEP_DAILY, K_COUNT, offsetof(struct config_section, keep_daily) },
	{ "keep-weekly", CFG_KEEP_WEEKLY, K_COUNT, offsetof(struct config_section, keep_weekly) },
	{ "keep-monthly", CFG_KEEP_MONTHLY, K_COUNT, offsetof(struct config_section, keep_monthly) },
	{ "keep-yearly", CFG_KEEP_YEARLY, K_COUNT, offsetof(struct config_section, keep_yearly) },
	{ "pre-freeze", CFG_PRE_FREEZE, K_PATH, offsetof(struct config_section, pre_freeze) },
	{ "post-thaw", CFG_POST_THAW, K_PATH, offsetof(struct config_section, post_thaw) },
	{ "s3-endpoint", CFG_S3_ENDPOINT, K_TEXT, offsetof(struct config_section, s3_endpoint) },
	{ "s3-region", CFG_S3_REGION, K_TEXT, offsetof(struct config_section, s3_region) },
	{ "s3-access-key-id", CFG_S3_KEY_ID, K_TEXT, offsetof(struct config_section, s3_key_id) },
	{ "s3-secret-access-key", CFG_S3_SECRET, K_TEXT,
	  offsetof(struct config_section, s3_secret) },
	{ "s3-ca-bundle", CFG_S3_CA, K_PATH, offsetof(struct config_section, s3_ca) },
	{ "s3-addressing", CFG_S3_ADDRESSING, K_TEXT,
	  offsetof(struct config_section, s3_addressing) },
	{ "deleted-grace", CFG_DELETED_GRACE, K_COUNT,
	  offsetof(struct config_section, deleted_grace) },
};

static const char *const weekdays[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

const char *config_path(void)
{
	const char *e = getenv("CRYPTSNAP_CONFIG");

	return e && *e ? e : CONFIG_DEFAULT_PATH;
}

/* Records "FILE:LINE: message" (line 0: "FILE: message"). */
__attribute__((format(printf, 3, 4)))
static void err(struct parse *p, int line, const char *fmt, ...)
{
	struct config *c = p->c;
	char *msg, *full, **e;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto oom;
	r = line ? asprintf(&full, "%s:%d: %s", c->path, line, msg) :
		   asprintf(&full, "%s: %s", c->path, msg);
	free(msg);
	if (r < 0)
		goto oom;
	e = realloc(c->errors, (c->nerrors + 1) * sizeof(*e));
	if (!e) {
		free(full);
		goto oom;
	}
	c->errors = e;
	c->errors[c->nerrors++] = full;
	return;
oom:
	p->oom = 1;
}

static struct config_section *cur_section(struct parse *p)
{
	if (p->cur == DEFAULTS)
		return &p->c->defaults;
	return p->cur >= 0 ? &p->c->disks[p->cur] : NULL;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* "HH:MM", 00:00 .. 23:59. */
static int parse_time(const char *s, struct config_schedule *out)
{
	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -EINVAL;
	out->hour = (uint8_t)((s[0] - '0') * 10 + s[1] - '0');
	out->minute = (uint8_t)((s[3] - '0') * 10 + s[4] - '0');
	return out->hour < 24 ? 0 : -EINVAL;
}

/* "mon,thu": each day once, no empty item. */
static int parse_days(const char *s, uint8_t *days)
{
	int d;

	*days = 0;
	for (;;) {
		for (d = 0; d < 7 && strncmp(s, weekdays[d], 3); d++)
			;
		if (d == 7 || (*days & (1u << d)) || (s[3] && s[3] != ','))
			return -EINVAL;
		*days |= (uint8_t)(1u << d);
		if (!s[3])
			return 0;
		s += 4;
	}
}

/* "manual", "daily HH:MM" or "weekly DAY[,DAY...] HH:MM". */
static int parse_schedule(const char *v, struct config_schedule *out)
{
	char w[3][64], extra[2];
	int n;

	memset(out, 0, sizeof(*out));
	n = sscanf(v, "%63s %63s %63s %1s", w[0], w[1], w[2], extra);
	if (n == 1 && !strcmp(w[0], "manual")) {
		out->kind = SCHED_MANUAL;
		return 0;
	}
	if (n == 2 && !strcmp(w[0], "daily")) {
		out->kind = SCHED_DAILY;
		return parse_time(w[1], out);
	}
	if (n == 3 && !strcmp(w[0], "weekly")) {
		out->kind = SCHED_WEEKLY;
		if (parse_days(w[1], &out->days))
			return -EINVAL;
		return parse_time(w[2], out);
	}
	return -EINVAL;
}

static int text_ok(const char *v)
{
	for (; *v; v++)
		if (*v <= 0x20 || *v >= 0x7f)
			return 0;
	return 1;
}

int config_schedule_calendar(const struct config_schedule *s, char *buf, size_t len)
{
	static const char *const names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	char days[32] = "";
	size_t off = 0;
	int d, n;

	if (s->kind == SCHED_UNSET || s->kind == SCHED_MANUAL)
		return -ENOENT;
	if ((s->kind != SCHED_DAILY && s->kind != SCHED_WEEKLY) || s->hour > 23 ||
	    s->minute > 59)
		return -EINVAL;
	if (s->kind == SCHED_WEEKLY) {
		if (!s->days || (s->days & 0x80))
			return -EINVAL;
		for (d = 0; d < 7; d++)
			if (s->days & (1u << d))
				off += (size_t)sprintf(days + off, "%s%s", off ? "," : "", names[d]);
		days[off++] = ' ';
		days[off] = 0;
	}
	n = snprintf(buf, len, "%s*-*-* %02u:%02u:00", days, s->hour, s->minute);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Parses value v of key k into s; returns an error text or NULL. */
static const char *set_value(struct parse *p, struct config_section *s, const struct key *k,
			     const char *v)
{
	void *field = (char *)s + k->off;
	unsigned long n;
	uint64_t sz;

	switch (k->kind) {
	case K_PATH:
	case K_VAULT:
	case K_TEXT:
		if (k->kind == K_PATH && v[0] != '/')
			return "not an absolute path";
		if (k->kind == K_VAULT && v[0] != '/' && strncmp(v, "s3://", 5))
			return "not an absolute path or an s3:// URL";
		if (k->kind == K_TEXT && !text_ok(v))
			return "not printable text without spaces";
		if (strlen(v) >= 4096)
			return "too long";
		free(*(char **)field);
		*(char **)field = strdup(v);
		if (!*(char **)field)
			p->oom = 1;
		return NULL;
	case K_SIZE:
		if (v[0] < '0' || v[0] > '9' || parse_size(v, &sz))
			return "not a size (a number with an optional K, M, G, T or P suffix)";
		if (sz < (1 << 20))
			return "smaller than 1M";
		*(uint64_t *)field = sz;
		return NULL;
	case K_CHUNK:
		if (v[0] < '0' || v[0] > '9' || parse_size(v, &sz))
			return "not a size (a number with an optional K, M, G, T or P suffix)";
		if (sz < 4096 || sz > (8 << 20) || (sz & (sz - 1)))
			return "not a power of two from 4K to 8M";
		*(uint32_t *)field = (uint32_t)sz;
		return NULL;
	case K_COUNT:
		if (!all_digits(v) || strlen(v) > 6 || (n = strtoul(v, NULL, 10)) > 100000)
			return "not a whole number from 0 to 100000";
		*(unsigned int *)field = (unsigned int)n;
		return NULL;
	case K_SCHEDULE:
		if (parse_schedule(v, field))
			return "not \"manual\", \"daily HH:MM\" or \"weekly DAY[,DAY...] HH:MM\" "
			       "(days mon..sun)";
		return NULL;
	}
	return "unknown kind";
}

/* inih's handler: one "name = value" of the current section. */
static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct config_section *s = cur_section(p);
	const char *why;
	size_t i;

	p->pending = 0;
	if (!s) {
		if (!p->cur_bad)
			err(p, p->lineno, "'%s' outside a section ([defaults] or [disk \"NAME\"])", name);
		return 1;
	}
	for (i = 0; i < NKEYS && strcmp(keys[i].name, name); i++)
		;
	if (i == NKEYS) {
		err(p, p->lineno, "unknown key '%s'", name);
		return 1;
	}
	if (s->set & keys[i].bit) {
		err(p, p->lineno, "'%s' set twice in this section (first on line %d)", name,
		    p->key_line[i]);
		return 1;
	}
	if (!*value) {
		err(p, p->lineno, "'%s' has no value", name);
		return 1;
	}
	why = set_value(p, s, &keys[i], value);
	if (why) {
		err(p, p->lineno, "%s = %s: %s", name, value, why);
		return 1;
	}
	s->set |= keys[i].bit;
	p->key_line[i] = p->lineno;
	return 1;
}

static void open_disk_section(struct parse *p, const char *name)
{
	struct config *c = p->c;
	struct config_section *d;
	size_t i;

	if (!disk_name_valid(name)) {
		err(p, p->lineno, "bad disk name \"%s\" ([A-Za-z0-9_.-], at most %d)", name,
		    DISK_NAME_MAX);
		return;
	}
	for (i = 0; i < c->ndisks; i++)
		if (!strcmp(c->disks[i].name, name)) {
			err(p, p->lineno, "[disk \"%s\"] appears twice (first on line %d)", name,
			    c->disks[i].line);
			return;
		}
	d = realloc(c->disks, (c->ndisks + 1) * sizeof(*d));
	if (!d) {
		p->oom = 1;
		return;
	}
	c->disks = d;
	d = &c->disks[c->ndisks];
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, strlen(name) + 1);	/* disk_name_valid: it fits */
	d->line = p->lineno;
	p->cur = (long)c->ndisks++;
	p->cur_bad = 0;
}

/* A line starting with '[': [defaults] or [disk "NAME"], then nothing but
 * a comment.  Keys under a bad header are not reported one by one. */
static void section_header(struct parse *p, const char *s)
{
	char inner[256], name[128], rest[2];
	const char *end = strchr(s, ']'), *after;
	size_t len;

	p->cur = NOWHERE;
	p->cur_bad = 1;
	memset(p->key_line, 0, sizeof(p->key_line));
	if (!end) {
		err(p, p->lineno, "section header without ']'");
		return;
	}
	for (after = end + 1; *after == ' ' || *after == '\t'; after++)
		;
	if (*after && *after != '#' && *after != ';') {
		err(p, p->lineno, "text after the section header");
		return;
	}
	len = (size_t)(end - s - 1);
	if (len >= sizeof(inner)) {
		err(p, p->lineno, "section name too long");
		return;
	}
	memcpy(inner, s + 1, len);
	inner[len] = 0;
	if (!strcmp(inner, "defaults")) {
		if (p->defaults_line) {
			err(p, p->lineno, "[defaults] appears twice (first on line %d)", p->defaults_line);
			return;
		}
		p->defaults_line = p->lineno;
		p->c->defaults.line = p->lineno;
		p->cur = DEFAULTS;
		p->cur_bad = 0;
		return;
	}
	if (sscanf(inner, "disk \"%127[^\"]\"%1s", name, rest) == 1 &&
	    inner[len - 1] == '"' && !strncmp(inner, "disk \"", 6)) {
		open_disk_section(p, name);
		return;
	}
	err(p, p->lineno, "unknown section [%s] (sections: [defaults], [disk \"NAME\"])", inner);
}

/* The previous line was meant as a pair but inih did not hand it over. */
static void check_pending(struct parse *p)
{
	if (p->pending)
		err(p, p->lineno, "not a section, a \"key = value\" line or a comment");
	p->pending = 0;
}

/* inih's reader: the next line, counted and checked. */
static char *next_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *s;
	ssize_t n;

	check_pending(p);
	n = getline(&p->buf, &p->cap, p->f);
	if (n < 0)
		return NULL;
	p->lineno++;
	while (n > 0 && (p->buf[n - 1] == '\n' || p->buf[n - 1] == '\r'))
		p->buf[--n] = 0;
	if (strlen(p->buf) != (size_t)n) {
		err(p, p->lineno, "NUL byte in the line");
		p->buf[0] = 0;
	} else if (n > num - 3) {
		err(p, p->lineno, "line longer than %d characters", num - 3);
		p->buf[0] = 0;
	}
	s = p->buf;
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;		/* a UTF-8 BOM, which inih skips too */
	for (; *s == ' ' || *s == '\t'; s++)
		;
	if (*s == '[') {
		section_header(p, s);
	} else if (*s && *s != '#' && *s != ';') {
		p->pending = 1;
		/* inih also takes "name: value"; this file is "key = value". */
		if (s[strcspn(s, "=:")] == ':') {
			err(p, p->lineno, "':' where '=' belongs (key = value)");
			p->pending = 0;
			p->buf[0] = 0;
		}
	}
	snprintf(str, (size_t)num, "%s\n", p->buf);
	return str;
}

static int parse_stream(struct parse *p)
{
	int r;

	p->cur = NOWHERE;
	/* An indented line is a line like any other, never the continuation
	 * of the value above it (Debian's libinih sets this at run time). */
	ini_allow_multiline = false;
	r = ini_parse_stream(next_line, p, on_pair, p);
	check_pending(p);
	free(p->buf);
	if (r < 0 || p->oom)
		return -ENOMEM;
	/* Every syntax error inih sees is one next_line reports too. */
	if (r > 0 && !p->c->nerrors)
		err(p, r, "syntax error");
	return p->c->nerrors ? -EINVAL : 0;
}

static void start(struct config *c, const char *path, struct parse *p)
{
	memset(c, 0, sizeof(*c));
	memset(p, 0, sizeof(*p));
	snprintf(c->path, sizeof(c->path), "%s", path);
	p->c = c;
}

static int holds_secret(const struct config *c)
{
	size_t i;

	for (i = 0; i < c->ndisks; i++)
		if (c->disks[i].set & CFG_S3_SECRET)
			return 1;
	return !!(c->defaults.set & CFG_S3_SECRET);
}

int config_load(const char *path, int must_exist, struct config *c)
{
	struct parse p;
	struct stat st;
	int r;

	start(c, path, &p);
	p.f = fopen(path, "re");
	if (!p.f) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return 0;
		err(&p, 0, "cannot open: %s", strerror(-r));
		return p.oom ? -ENOMEM : r;
	}
	c->found = 1;
	if (fstat(fileno(p.f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(p.f);
		err(&p, 0, "not a regular file");
		return -EINVAL;
	}
	if (st.st_mode & 022)
		err(&p, 0, "writable by group or others, and it names programs run as root "
			   "(chmod go-w)");
	r = parse_stream(&p);
	fclose(p.f);
	if (holds_secret(c) && (st.st_mode & 044)) {
		err(&p, 0, "holds s3-secret-access-key but is readable by group or others "
			   "(chmod 600)");
		r = r ? r : -EINVAL;
	}
	return r;
}

int config_load_string(const char *name, const char *text, struct config *c)
{
	struct parse p;
	int r;

	start(c, name, &p);
	p.f = fmemopen((void *)text, strlen(text), "r");
	if (!p.f)
		return -errno;
	c->found = 1;
	r = parse_stream(&p);
	fclose(p.f);
	return r;
}

static void section_free(struct config_section *s)
{
	free(s->vault);
	free(s->kek);
	free(s->cow_dir);
	free(s->pre_freeze);
	free(s->post_thaw);
	free(s->s3_endpoint);
	free(s->s3_region);
	free(s->s3_key_id);
	if (s->s3_secret)
		explicit_bzero(s->s3_secret, strlen(s->s3_secret));
	free(s->s3_secret);
	free(s->s3_ca);
	free(s->s3_addressing);
}

void config_free(struct config *c)
{
	size_t i;

	section_free(&c->defaults);
	for (i = 0; i < c->ndisks; i++)
		section_free(&c->disks[i]);
	free(c->disks);
	for (i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	free(c->errors);
	memset(c, 0, sizeof(*c));
}

const struct config_section *config_disk_section(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ndisks; i++)
		if (!strcmp(c->disks[i].name, name))
			return &c->disks[i];
	return NULL;
}

void config_for_disk(const struct config *c, const char *name, struct config_section *out)
{
	const struct config_section *d = config_disk_section(c, name);
	size_t i, sz;

	*out = c->defaults;
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (!d)
		return;
	out->line = d->line;
	for (i = 0; i < NKEYS; i++) {
		if (!(d->set & keys[i].bit))
			continue;
		sz = keys[i].kind == K_PATH || keys[i].kind == K_VAULT ||
		     keys[i].kind == K_TEXT ? sizeof(char *) :
		     keys[i].kind == K_SIZE ? sizeof(uint64_t) :
		     keys[i].kind == K_CHUNK ? sizeof(uint32_t) :
		     keys[i].kind == K_COUNT ? sizeof(unsigned int) : sizeof(struct config_schedule);
		memcpy((char *)out + keys[i].off, (const char *)d + keys[i].off, sz);
	}
	out->set |= d->set;
}
