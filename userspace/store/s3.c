// SPDX-License-Identifier: GPL-2.0
/*
 * S3 backend: "s3://BUCKET[/PREFIX]", objects are keys PREFIX/NAME.
 *
 * libcurl signs every request (CURLOPT_AWS_SIGV4); the payload hash goes
 * in x-amz-content-sha256, which curl signs and Swift's s3api requires.
 * Settings follow the AWS conventions (docs/vault-format.md, "S3"):
 *   AWS_ENDPOINT_URL     default https://s3.REGION.amazonaws.com
 *   AWS_REGION           default us-east-1 (AWS_DEFAULT_REGION too)
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, else the profile
 *   AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
 *   (default ~/.aws/credentials)
 *   AWS_CA_BUNDLE        CA file for TLS (verification is always on)
 *   CRYPTSNAP_S3_ADDRESSING  "path" or "virtual"; default path with an
 *                        endpoint given, virtual-host on AWS
 * each of which, when unset, comes from the same key in [defaults] of the
 * configuration file (s3-endpoint, s3-region, s3-access-key-id,
 * s3-secret-access-key, s3-ca-bundle, s3-addressing; lib/config.h).
 *
 * A PUT is atomic on S3: readers see the old object or the new one, never
 * a part, so put() needs no tmp/ object and rename.  Commits are ordered
 * by the vault writing its point object last (docs/vault-format.md).
 * put_new() is HEAD then PUT: Swift answers If-None-Match with 501, so
 * exclusion between writers comes from the vault lock, not from here.
 *
 * Threads: each call takes an easy handle from a small pool; connections,
 * DNS and TLS sessions are shared (CURLSH), so the backup's threads keep
 * several requests in flight over reused connections.  Transient failures
 * (connect errors, timeouts, HTTP 5xx, 429) are retried with exponential
 * backoff.  A whole-object read is bounded before its body is kept.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/config.h"
#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "store/backend.h"
#include "store/s3_xml.h"

#define S3_POOL		8
#define S3_TRIES	6
#define S3_BACKOFF_MS	200
#define S3_KEY_MAX	256
#define S3_ERR_BODY_MAX	(64u << 10)
#define S3_LIST_MAX	(16u << 20)
/* Read-ahead of packs: a small range read fetches a window and keeps it. */
#define S3_RA_WINDOW	(4u << 20)
#define S3_RA_SLOTS	8
#define S3_RA_PREFIX	"packs/"

/*
 * Write-behind of packs: a put of packs/... returns once its copy is
 * queued, and S3_WB_THREADS threads upload up to S3_WB_MAX packs at once.
 * Every other operation first waits until no pack is in flight, so a put
 * of an index or point object, which names packs, is issued only after
 * they are all stored: the order of commits stays "packs, index, point".
 * A failed pack upload fails every later put (sticky), so the backup that
 * wrote it cannot commit.  jobs/ and locks/ name no pack and do not wait.
 */
#define S3_WB_THREADS	4
#define S3_WB_MAX	4
#define S3_WB_PREFIX	"packs/"

struct wb_job {
	struct wb_job *next;
	char *name;
	void *buf;
	size_t len;
};

struct ra_slot {
	char *name;
	uint64_t off;
	size_t len;
	char *data;
	uint64_t used;
};

struct s3 {
	struct backend b;
	char *endpoint;		/* scheme://host[:port], no trailing '/' */
	char *bucket, *prefix;	/* prefix "" or "p/" */
	char *region, *sigv4;
	char *access, *secret;	/* secret in secmem */
	char *ca;
	int path_style;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_mu;
	CURL *pool[S3_POOL];
	size_t npool;
	pthread_mutex_t ra_mu;
	struct ra_slot ra[S3_RA_SLOTS];
	uint64_t ra_clock;
	pthread_mutex_t wb_mu;
	pthread_cond_t wb_work, wb_done;
	struct wb_job *wb_head, *wb_tail;
	pthread_t wb_thr[S3_WB_THREADS];
	size_t wb_started, wb_inflight, wb_draining;
	int wb_err, wb_stop;
};

static struct s3 *to_s3(struct backend *b)
{
	return (struct s3 *)b;
}

/* --- settings ----------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = 0;
	return s;
}

/* The keys of profile in an AWS credentials file (INI). */
static int creds_file(struct s3 *s)
{
	const char *path = env("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	char def[4096], line[1024], sect[256] = "";
	FILE *f;

	if (!path) {
		if (!env("HOME"))
			return -ENOENT;
		snprintf(def, sizeof(def), "%s/.aws/credentials", env("HOME"));
		path = def;
	}
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq;

		if (*l == '[' && l[strlen(l) - 1] == ']') {
			l[strlen(l) - 1] = 0;
			snprintf(sect, sizeof(sect), "%s", trim(l + 1));
			continue;
		}
		eq = strchr(l, '=');
		if (!eq || strcmp(sect, profile))
			continue;
		*eq = 0;
		if (!strcmp(trim(l), "aws_access_key_id") && !s->access)
			s->access = strdup(trim(eq + 1));
		else if (!strcmp(trim(l), "aws_secret_access_key") && !s->secret) {
			const char *v = trim(eq + 1);

			s->secret = secmem_alloc(strlen(v) + 1);
			if (s->secret)
				memcpy(s->secret, v, strlen(v) + 1);
		}
	}
	crypto_wipe(line, sizeof(line));
	fclose(f);
	return s->access && s->secret ? 0 : -ENOKEY;
}

static int set_secret(struct s3 *s, const char *v)
{
	s->secret = secmem_alloc(strlen(v) + 1);
	if (!s->secret)
		return -ENOMEM;
	memcpy(s->secret, v, strlen(v) + 1);
	return 0;
}

static int credentials(struct s3 *s, const struct config_section *cfg)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");

	if (!id || !secret) {
		id = cfg->s3_key_id;
		secret = cfg->s3_secret;
	}
	if (id && secret) {
		s->access = strdup(id);
		if (!s->access)
			return -ENOMEM;
		return set_secret(s, secret);
	}
	if (creds_file(s) < 0) {
		backend_set_error_detail("no S3 credentials: set AWS_ACCESS_KEY_ID and "
					 "AWS_SECRET_ACCESS_KEY, or a credentials file");
		return -ENOKEY;
	}
	return 0;
}

/* "s3://BUCKET[/PREFIX]": bucket 3..63 of [a-z0-9.-]; prefix without
 * empty, "." or ".." parts. */
static int parse_location(struct s3 *s, const char *loc)
{
	const char *p = loc + strlen("s3://"), *slash = strchr(p, '/');
	size_t bl = slash ? (size_t)(slash - p) : strlen(p), i;
	const char *pre = slash ? slash + 1 : "";
	size_t pl = strlen(pre);

	if (bl < 3 || bl > 63)
		return -EINVAL;
	for (i = 0; i < bl; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", p[i]))
			return -EINVAL;
	while (pl && pre[pl - 1] == '/')
		pl--;
	if (pl > S3_KEY_MAX || strstr(pre, "//") || strstr(pre, "./") || *pre == '/')
		return -EINVAL;
	s->bucket = strndup(p, bl);
	s->prefix = malloc(pl + 2);
	if (!s->bucket || !s->prefix)
		return -ENOMEM;
	memcpy(s->prefix, pre, pl);
	strcpy(s->prefix + pl, pl ? "/" : "");
	return 0;
}

/* The environment's value, else the configuration file's. */
static const char *pick(const char *name, const char *cfg)
{
	return env(name) ? env(name) : cfg;
}

static int settings(struct s3 *s, const char *loc, const struct config_section *cfg)
{
	const char *ep = pick("AWS_ENDPOINT_URL", cfg->s3_endpoint);
	const char *addr = pick("CRYPTSNAP_S3_ADDRESSING", cfg->s3_addressing);
	const char *region = env("AWS_REGION") ? env("AWS_REGION") :
			     pick("AWS_DEFAULT_REGION", cfg->s3_region);
	const char *ca = pick("AWS_CA_BUNDLE", cfg->s3_ca);
	char buf[512];
	int r;

	r = parse_location(s, loc);
	if (r < 0)
		return r;
	s->region = strdup(region ? region : "us-east-1");
	if (!s->region)
		return -ENOMEM;
	if (ep) {
		snprintf(buf, sizeof(buf), "%s", ep);
		while (*buf && buf[strlen(buf) - 1] == '/')
			buf[strlen(buf) - 1] = 0;
	} else {
		snprintf(buf, sizeof(buf), "https://s3.%s.amazonaws.com", s->region);
	}
	if (strncmp(buf, "https://", 8) && strncmp(buf, "http://", 7))
		return -EINVAL;
	s->path_style = ep != NULL;
	if (addr && !strcmp(addr, "virtual"))
		s->path_style = 0;
	else if (addr && !strcmp(addr, "path"))
		s->path_style = 1;
	else if (addr)
		return -EINVAL;
	s->endpoint = strdup(buf);
	snprintf(buf, sizeof(buf), "aws:amz:%s:s3", s->region);
	s->sigv4 = strdup(buf);
	if (ca)
		s->ca = strdup(ca);
	if (!s->endpoint || !s->sigv4 || (ca && !s->ca))
		return -ENOMEM;
	return credentials(s, cfg);
}

/* --- requests ----------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap, max;	/* max: larger bodies fail the transfer */
	int too_big;
};

struct req {
	const char *method;
	const char *name;	/* object name, or NULL: the bucket */
	const char *query;	/* encoded, sorted; or NULL */
	const void *body;
	size_t body_len, body_off;
	const char *range;	/* "bytes=a-b" or NULL */
	struct buf resp;
	long status;
	int64_t filetime;
	int64_t length;
	char code[64];
};

static size_t on_write(char *data, size_t sz, size_t n, void *arg)
{
	struct req *q = arg;
	struct buf *b = &q->resp;
	size_t len = sz * n;

	if (b->len + len > b->max) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + len > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + len);
		char *p = realloc(b->p, MIN(cap, b->max) + 1);

		if (!p)
			return 0;
		b->p = p;
		b->cap = MIN(cap, b->max);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return len;
}

static size_t on_read(char *dst, size_t sz, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = MIN(sz * n, q->body_len - q->body_off);

	memcpy(dst, (const char *)q->body + q->body_off, len);
	q->body_off += len;
	return len;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct req *q = arg;

	if (origin != SEEK_SET || off < 0 || (size_t)off > q->body_len)
		return CURL_SEEKFUNC_FAIL;
	q->body_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static void url_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) || (keep_slash && c == '/')) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
}

static int make_url(struct s3 *s, const struct req *q, char *url, size_t len)
{
	char key[3 * (2 * S3_KEY_MAX + 600)], full[2 * S3_KEY_MAX + 600];
	const char *sep = strstr(s->endpoint, "://") + 3;
	int n;

	if (q->name) {
		snprintf(full, sizeof(full), "%s%s", s->prefix, q->name);
		url_encode(full, 1, key, sizeof(key));
	} else {
		key[0] = 0;
	}
	if (s->path_style)
		n = snprintf(url, len, "%s/%s%s%s%s%s", s->endpoint, s->bucket,
			     *key ? "/" : "", key,
			     q->query ? "?" : "", q->query ? q->query : "");
	else
		n = snprintf(url, len, "%.*s%s.%s/%s%s%s", (int)(sep - s->endpoint),
			     s->endpoint, s->bucket, sep, key,
			     q->query ? "?" : "", q->query ? q->query : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
	pthread_mutex_lock(&((struct s3 *)arg)->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
	pthread_mutex_unlock(&((struct s3 *)arg)->share_mu[d]);
}

static CURL *handle_get(struct s3 *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->pool_mu);
	if (s->npool)
		h = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_mu);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(struct s3 *s, CURL *h)
{
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool < S3_POOL) {
		s->pool[s->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

static void payload_hash(const struct req *q, char hex[65])
{
	uint8_t d[32];

	crypto_sha256(q->body ? q->body : "", q->body ? q->body_len : 0, d);
	hex_encode(d, sizeof(d), hex);
}

static struct curl_slist *headers(const struct req *q)
{
	struct curl_slist *h = NULL, *t;
	char line[128], hex[65];

	payload_hash(q, hex);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
	h = curl_slist_append(h, line);
	if (h && q->range) {
		snprintf(line, sizeof(line), "Range: %s", q->range);
		t = curl_slist_append(h, line);
		h = t ? t : (curl_slist_free_all(h), NULL);
	}
	return h;
}

static void setup(struct s3 *s, CURL *h, struct req *q, const char *url,
		  struct curl_slist *hdr)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, s->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, s->access);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled transfer (under 1 KiB/s for 30 s) is a timeout. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
	if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, q);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
}

static int transient(CURLcode c, long status)
{
	if (c == CURLE_OK)
		return status >= 500 || status == 429;
	return c == CURLE_COULDNT_CONNECT || c == CURLE_OPERATION_TIMEDOUT ||
	       c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING ||
	       c == CURLE_PARTIAL_FILE || c == CURLE_COULDNT_RESOLVE_HOST;
}

static int errno_of(CURLcode c, const struct req *q)
{
	if (c == CURLE_WRITE_ERROR && q->resp.too_big)
		return -EFBIG;
	if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CONNECT_ERROR ||
	    c == CURLE_SSL_CACERT_BADFILE)
		return -EPROTO;
	if (c != CURLE_OK)
		return c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	if (q->status >= 200 && q->status < 300)
		return 0;
	if (!strcmp(q->code, "RequestTimeTooSkewed"))
		return -ETIME;
	switch (q->status) {
	case 404: return -ENOENT;
	case 403: return -EACCES;
	case 401: return -EACCES;
	case 416: return -ENODATA;
	case 412: return -EEXIST;
	default: return -EIO;
	}
}

static int perform_once(struct s3 *s, CURL *h, struct req *q, const char *url,
			struct curl_slist *hdr, CURLcode *cc)
{
	curl_off_t ft = -1, cl = -1;
	size_t max = q->resp.max;

	free(q->resp.p);
	memset(&q->resp, 0, sizeof(q->resp));
	q->resp.max = max;
	q->body_off = 0;
	q->status = 0;
	q->code[0] = 0;
	setup(s, h, q, url, hdr);
	*cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
	curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	q->filetime = ft;
	q->length = cl;
	return 0;
}

static void note_failure(CURLcode cc, const struct req *q)
{
	if (cc != CURLE_OK)
		backend_set_error_detail("S3 request failed: %s", curl_easy_strerror(cc));
	else
		backend_set_error_detail("S3 %s (HTTP %ld)", q->code[0] ? q->code : "error",
					 q->status);
}

/* One request with retries; 0 on 2xx, else negative errno.  The S3 error
 * code of a failure is in q->code. */
static int perform(struct s3 *s, struct req *q, size_t maxbody)
{
	char url[4096];
	struct curl_slist *hdr;
	CURLcode cc = CURLE_OK;
	CURL *h;
	int r, i;

	r = make_url(s, q, url, sizeof(url));
	if (r < 0)
		return r;
	hdr = headers(q);
	h = handle_get(s);
	if (!hdr || !h) {
		curl_slist_free_all(hdr);
		if (h)
			curl_easy_cleanup(h);
		return -ENOMEM;
	}
	for (i = 0; i < S3_TRIES; i++) {
		if (i)
			usleep((useconds_t)(S3_BACKOFF_MS * 1000) << (i - 1));
		q->resp.max = maxbody;
		perform_once(s, h, q, url, hdr, &cc);
		if (cc == CURLE_OK && (q->status < 200 || q->status >= 300))
			s3_xml_error_code(q->resp.p ? q->resp.p : "", q->resp.len,
					  q->code, sizeof(q->code));
		if (!transient(cc, q->status))
			break;
	}
	handle_put(s, h);
	curl_slist_free_all(hdr);
	r = errno_of(cc, q);
	if ((r < 0 && r != -ENOENT && r != -EFBIG && r != -ENODATA) ||
	    !strcmp(q->code, "NoSuchBucket"))
		note_failure(cc, q);
	return r;
}

static void req_free(struct req *q)
{
	free(q->resp.p);
	q->resp.p = NULL;
}

/* --- read-ahead of packs ------------------------------------------------ */

/* Copies [off, off+len) from a cached window; 0 on a hit. */
static int ra_hit(struct s3 *s, const char *name, uint64_t off, void *buf, size_t len)
{
	int r = -ENOENT;
	size_t i;

	pthread_mutex_lock(&s->ra_mu);
	for (i = 0; i < S3_RA_SLOTS; i++) {
		struct ra_slot *e = &s->ra[i];

		if (e->name && !strcmp(e->name, name) && off >= e->off &&
		    off + len <= e->off + e->len) {
			memcpy(buf, e->data + (off - e->off), len);
			e->used = ++s->ra_clock;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->ra_mu);
	return r;
}

static void ra_slot_clear(struct ra_slot *e)
{
	free(e->name);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

/* Keeps data (taken over) as the window of name at off, in the least
 * recently used slot. */
static void ra_insert(struct s3 *s, const char *name, uint64_t off, char *data, size_t len)
{
	struct ra_slot *lru;
	char *n = strdup(name);
	size_t i;

	if (!n) {
		free(data);
		return;
	}
	pthread_mutex_lock(&s->ra_mu);
	lru = &s->ra[0];
	for (i = 1; i < S3_RA_SLOTS; i++)
		if (s->ra[i].used < lru->used)
			lru = &s->ra[i];
	ra_slot_clear(lru);
	*lru = (struct ra_slot){ .name = n, .off = off, .len = len, .data = data,
				 .used = ++s->ra_clock };
	pthread_mutex_unlock(&s->ra_mu);
}

static void ra_forget(struct s3 *s, const char *name)
{
	size_t i;

	pthread_mutex_lock(&s->ra_mu);
	for (i = 0; i < S3_RA_SLOTS; i++)
		if (s->ra[i].name && !strcmp(s->ra[i].name, name))
			ra_slot_clear(&s->ra[i]);
	pthread_mutex_unlock(&s->ra_mu);
}

/* --- ops ---------------------------------------------------------------- */

static int name_ok(const char *name)
{
	return *name && *name != '/' && strlen(name) <= 512 && !strstr(name, "//") &&
	       !strstr(name, "./");
}

static int put_now(struct s3 *s, const char *name, const void *buf, size_t len)
{
	struct req q = { .method = "PUT", .name = name, .body = buf, .body_len = len };
	int r;

	ra_forget(s, name);
	r = perform(s, &q, S3_ERR_BODY_MAX);
	req_free(&q);
	return r;
}

static void *wb_main(void *arg)
{
	struct s3 *s = arg;
	struct wb_job *j;
	int r;

	pthread_mutex_lock(&s->wb_mu);
	for (;;) {
		while (!s->wb_head && !s->wb_stop)
			pthread_cond_wait(&s->wb_work, &s->wb_mu);
		if (!s->wb_head)
			break;
		j = s->wb_head;
		s->wb_head = j->next;
		if (!s->wb_head)
			s->wb_tail = NULL;
		pthread_mutex_unlock(&s->wb_mu);
		r = put_now(s, j->name, j->buf, j->len);
		free(j->name);
		free(j->buf);
		free(j);
		pthread_mutex_lock(&s->wb_mu);
		if (r < 0 && !s->wb_err)
			s->wb_err = r;
		s->wb_inflight--;
		pthread_cond_broadcast(&s->wb_done);
	}
	pthread_mutex_unlock(&s->wb_mu);
	return NULL;
}

/* Waits until no pack is in flight; the sticky error of a failed one. */
static int wb_drain(struct s3 *s)
{
	int r;

	pthread_mutex_lock(&s->wb_mu);
	s->wb_draining++;
	while (s->wb_inflight)
		pthread_cond_wait(&s->wb_done, &s->wb_mu);
	s->wb_draining--;
	pthread_cond_broadcast(&s->wb_done);
	r = s->wb_err;
	pthread_mutex_unlock(&s->wb_mu);
	return r;
}

static int wb_submit(struct s3 *s, const char *name, const void *buf, size_t len)
{
	struct wb_job *j = calloc(1, sizeof(*j));
	int r = 0;

	if (j) {
		j->name = strdup(name);
		j->buf = malloc(len ? len : 1);
	}
	if (!j || !j->name || !j->buf) {
		if (j) {
			free(j->name);
			free(j->buf);
		}
		free(j);
		return -ENOMEM;
	}
	memcpy(j->buf, buf, len);
	j->len = len;
	pthread_mutex_lock(&s->wb_mu);
	while ((s->wb_inflight >= S3_WB_MAX || s->wb_draining) && !s->wb_err)
		pthread_cond_wait(&s->wb_done, &s->wb_mu);
	r = s->wb_err;
	if (!r && s->wb_started < S3_WB_THREADS &&
	    !pthread_create(&s->wb_thr[s->wb_started], NULL, wb_main, s))
		s->wb_started++;
	if (!r && !s->wb_started)
		r = -EAGAIN;
	if (!r) {
		if (s->wb_tail)
			s->wb_tail->next = j;
		else
			s->wb_head = j;
		s->wb_tail = j;
		s->wb_inflight++;
		pthread_cond_signal(&s->wb_work);
		j = NULL;
	}
	pthread_mutex_unlock(&s->wb_mu);
	if (j) {
		free(j->name);
		free(j->buf);
		free(j);
	}
	return r;
}

static void wb_stop(struct s3 *s)
{
	size_t i;

	pthread_mutex_lock(&s->wb_mu);
	s->wb_stop = 1;
	pthread_cond_broadcast(&s->wb_work);
	pthread_mutex_unlock(&s->wb_mu);
	for (i = 0; i < s->wb_started; i++)
		pthread_join(s->wb_thr[i], NULL);
	s->wb_started = 0;
}

static int no_wait(const char *name)
{
	return !strncmp(name, "jobs/", 5) || !strncmp(name, "locks/", 6);
}

static int s3_put(struct backend *b, const char *name, const void *buf, size_t len)
{
	struct s3 *s = to_s3(b);
	int r;

	if (!name_ok(name))
		return -EINVAL;
	if (!strncmp(name, S3_WB_PREFIX, strlen(S3_WB_PREFIX)))
		return wb_submit(s, name, buf, len);
	if (!no_wait(name)) {
		r = wb_drain(s);
		if (r < 0)
			return r;
	}
	return put_now(s, name, buf, len);
}

/*
 * Packs of a backup come through store/putq.c's threads: each is a PUT
 * of its own, durable once answered.  sync() only has to wait for packs
 * that s3_put() queued for write-behind.
 */
static int s3_put_deferred(struct backend *b, const char *name, const void *buf,
			   size_t len)
{
	return name_ok(name) ? put_now(to_s3(b), name, buf, len) : -EINVAL;
}

static int s3_sync(struct backend *b)
{
	return wb_drain(to_s3(b));
}

static int s3_head(struct backend *b, const char *name, struct req *q)
{
	memset(q, 0, sizeof(*q));
	q->method = "HEAD";
	q->name = name;
	if (!name_ok(name))
		return -EINVAL;
	wb_drain(to_s3(b));
	return perform(to_s3(b), q, S3_ERR_BODY_MAX);
}

static int s3_put_new(struct backend *b, const char *name, const void *buf, size_t len)
{
	struct req q;
	int r = wb_drain(to_s3(b));

	if (r < 0)
		return r;
	r = s3_head(b, name, &q);

	req_free(&q);
	if (!r)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	return s3_put(b, name, buf, len);
}

static int s3_get(struct backend *b, const char *name, size_t maxlen,
		  void **buf, size_t *len)
{
	struct req q = { .method = "GET", .name = name };
	int r;

	if (!name_ok(name))
		return -EINVAL;
	wb_drain(to_s3(b));
	r = perform(to_s3(b), &q, maxlen);
	if (r < 0) {
		req_free(&q);
		return r;
	}
	if (!q.resp.p && !(q.resp.p = malloc(1)))
		return -ENOMEM;
	*buf = q.resp.p;
	*len = q.resp.len;
	return 0;
}

/* GET of bytes [off, off+len) into q->resp (fewer at the object's end). */
static int range_get(struct s3 *s, const char *name, uint64_t off, size_t len,
		     struct req *q)
{
	char range[64];

	memset(q, 0, sizeof(*q));
	q->method = "GET";
	q->name = name;
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	q->range = range;
	return perform(s, q, len);
}

/*
 * Packs are written once under random names and read in small pieces in
 * order (restore, verify): a read well below the window fetches the
 * window from off on and serves the next reads from memory.
 */
static int s3_get_range(struct backend *b, const char *name, uint64_t off,
			void *buf, size_t len)
{
	struct s3 *s = to_s3(b);
	int ra = !strncmp(name, S3_RA_PREFIX, strlen(S3_RA_PREFIX)) && len <= S3_RA_WINDOW / 4;
	struct req q;
	int r;

	if (!name_ok(name))
		return -EINVAL;
	if (!len)
		return 0;
	wb_drain(s);
	if (ra && !ra_hit(s, name, off, buf, len))
		return 0;
	r = range_get(s, name, off, ra ? S3_RA_WINDOW : len, &q);
	if (!r && q.status != 206 && !(q.status == 200 && off == 0))
		r = -ENODATA;
	if (!r && q.resp.len < len)
		r = -ENODATA;
	if (!r)
		memcpy(buf, q.resp.p, len);
	if (!r && ra) {
		ra_insert(s, name, off, q.resp.p, q.resp.len);
		q.resp.p = NULL;
	}
	req_free(&q);
	return r;
}

static int list_page(struct s3 *s, const char *prefix, const char *token,
		     struct name_list *raw, char **next)
{
	char full[2 * S3_KEY_MAX + 600], ep[3 * sizeof(full)], et[2048], query[8192];
	struct req q = { .method = "GET" };
	int r;

	snprintf(full, sizeof(full), "%s%s", s->prefix, prefix);
	url_encode(full, 0, ep, sizeof(ep));
	/* Parameters sorted by name: the canonical query string of SigV4. */
	if (token) {
		url_encode(token, 0, et, sizeof(et));
		snprintf(query, sizeof(query), "continuation-token=%s&list-type=2&prefix=%s", et, ep);
	} else {
		snprintf(query, sizeof(query), "list-type=2&prefix=%s", ep);
	}
	q.query = query;
	r = perform(s, &q, S3_LIST_MAX);
	if (!r)
		r = s3_xml_list(q.resp.p ? q.resp.p : "", q.resp.len, raw, next);
	req_free(&q);
	return r;
}

static int s3_list(struct backend *b, const char *prefix, struct name_list *out)
{
	struct s3 *s = to_s3(b);
	struct name_list raw = { 0 };
	char *tok = NULL, *next = NULL;
	size_t i, pl = strlen(s->prefix);
	int r;

	wb_drain(s);
	do {
		r = list_page(s, prefix, tok, &raw, &next);
		free(tok);
		tok = next;
		next = NULL;
	} while (!r && tok);
	free(tok);
	for (i = 0; !r && i < raw.n; i++)
		if (!strncmp(raw.names[i], s->prefix, pl) && name_ok(raw.names[i] + pl))
			r = name_list_add(out, raw.names[i] + pl);
	name_list_free(&raw);
	if (r < 0)
		name_list_free(out);
	else
		name_list_sort(out);
	return r;
}

static int s3_del(struct backend *b, const char *name)
{
	struct req q = { .method = "DELETE", .name = name };
	int r;

	if (!name_ok(name))
		return -EINVAL;
	if (!no_wait(name))
		wb_drain(to_s3(b));
	ra_forget(to_s3(b), name);
	r = perform(to_s3(b), &q, S3_ERR_BODY_MAX);
	req_free(&q);
	return r;
}

static int s3_size(struct backend *b, const char *name, uint64_t *size)
{
	struct req q;
	int r = s3_head(b, name, &q);

	req_free(&q);
	if (!r && q.length < 0)
		r = -EIO;
	if (!r)
		*size = (uint64_t)q.length;
	return r;
}

static int s3_mtime(struct backend *b, const char *name, int64_t *mtime)
{
	struct req q;
	int r = s3_head(b, name, &q);

	req_free(&q);
	if (!r && q.filetime < 0)
		r = -EIO;
	if (!r)
		*mtime = q.filetime;
	return r;
}

/* Puts are whole objects: no half-written upload of ours is ever kept. */
static int s3_cleanup(struct backend *b, int64_t older_than)
{
	return 0;
}

static void s3_free(struct s3 *s)
{
	size_t i;

	if (s->wb_started) {
		wb_drain(s);
		wb_stop(s);
	}
	pthread_cond_destroy(&s->wb_work);
	pthread_cond_destroy(&s->wb_done);
	pthread_mutex_destroy(&s->wb_mu);
	for (i = 0; i < s->npool; i++)
		curl_easy_cleanup(s->pool[i]);
	if (s->share)
		curl_share_cleanup(s->share);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->share_mu[i]);
	pthread_mutex_destroy(&s->pool_mu);
	for (i = 0; i < S3_RA_SLOTS; i++)
		ra_slot_clear(&s->ra[i]);
	pthread_mutex_destroy(&s->ra_mu);
	if (s->secret) {
		secmem_wipe(s->secret, strlen(s->secret));
		secmem_free(s->secret);
	}
	free(s->access);
	free(s->endpoint);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->sigv4);
	free(s->ca);
	free(s->b.location);
	free(s);
}

static void s3_close(struct backend *b)
{
	s3_free(to_s3(b));
}

static const struct backend_ops s3_ops = {
	.scheme = "s3",
	.put_parallel = S3_WB_THREADS,
	.put = s3_put,
	.put_deferred = s3_put_deferred,
	.sync = s3_sync,
	.put_new = s3_put_new,
	.get = s3_get,
	.get_range = s3_get_range,
	.list = s3_list,
	.del = s3_del,
	.size = s3_size,
	.mtime = s3_mtime,
	.cleanup = s3_cleanup,
	.close = s3_close,
};

static int share_init(struct s3 *s)
{
	size_t i;

	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->share_mu[i], NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_mutex_init(&s->ra_mu, NULL);
	pthread_mutex_init(&s->wb_mu, NULL);
	pthread_cond_init(&s->wb_work, NULL);
	pthread_cond_init(&s->wb_done, NULL);
	s->share = curl_share_init();
	if (!s->share)
		return -ENOMEM;
	curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return 0;
}

/* The bucket exists and the credentials open it: a one-key list. */
static int probe(struct s3 *s)
{
	struct req q = { .method = "GET", .query = "list-type=2&max-keys=1" };
	int r = perform(s, &q, S3_LIST_MAX);

	req_free(&q);
	return r;
}

/* Settings from the environment over [defaults] of the configuration
 * file; a file with errors is not used (the commands report them). */
static int load_settings(struct s3 *s, const char *location)
{
	struct config c;
	int r;

	if (config_load(config_path(), 0, &c) < 0) {
		config_free(&c);
		memset(&c, 0, sizeof(c));
	}
	r = settings(s, location, &c.defaults);
	config_free(&c);
	return r;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int backend_s3_open(const char *location, int create, struct backend **out)
{
	struct s3 *s;
	int r;

	pthread_once(&curl_once, curl_init_once);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->b.ops = &s3_ops;
	s->b.location = strdup(location);
	r = s->b.location ? share_init(s) : -ENOMEM;
	if (!r)
		r = load_settings(s, location);
	if (!r)
		r = probe(s);
	if (r < 0) {
		s3_free(s);
		return r;
	}
	*out = &s->b;
	return 0;
}
