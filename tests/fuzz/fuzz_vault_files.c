// SPDX-License-Identifier: GPL-2.0
/*
 * The plaintext objects of a vault, read through the tool's own code from
 * a real vault directory (made once, in a temporary directory).  Byte 0
 * picks the object the rest of the input replaces:
 *   0: config.json, read by vault_open();
 *   1: a job record, read by job_list();
 *   2: the second log event, read by vault_log_read() and checked by
 *      vault_log_verify() against the vault's MAC key;
 *   3: a lock: the text up to the first newline is its name under
 *      locks/, the rest its body, read by vault_lock_list().
 * Each input's object is removed again before the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "store/backend.h"
#include "vault/vault.h"
#include "vault/vault_job.h"
#include "vault/vault_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[4096], config_json[8192];
static size_t config_len;
static struct vault *v;

static void die(const char *what, int r)
{
	fprintf(stderr, "fuzz_vault_files: %s: %d\n", what, r);
	abort();
}

static void put(const char *name, const void *buf, size_t len)
{
	char path[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/v/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		die(path, -1);
}

static void drop(const char *name)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/v/%s", dir, name);
	unlink(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	if (v)
		vault_close(v);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vault_init_opts o = { 0 };
	char kek[4096], path[8192];
	FILE *f;
	int r;

	snprintf(dir, sizeof(dir), "%s/cryptsnap-fuzz-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", -1);
	snprintf(path, sizeof(path), "%s/state", dir);
	setenv("CRYPTSNAP_STATE_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/keys", dir);
	setenv("CRYPTSNAP_KEY_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/v", dir);
	o.key_dir = getenv("CRYPTSNAP_KEY_DIR");
	r = vault_init(path, &o, kek, sizeof(kek));
	if (!r)
		r = vault_open(path, &v);
	if (!r)
		r = vault_unlock(v, kek);
	if (r)
		die("vault", r);
	for (r = 0; r < 3; r++) {
		snprintf(path, sizeof(path), "%s/v/%s", dir, (const char *[]){ "jobs", "log", "locks" }[r]);
		if (mkdir(path, 0700) && errno != EEXIST)
			die(path, -errno);
	}
	snprintf(path, sizeof(path), "%s/v/config.json", dir);
	f = fopen(path, "r");
	if (!f)
		die(path, -1);
	config_len = fread(config_json, 1, sizeof(config_json), f);
	fclose(f);
	atexit(cleanup);
	return 0;
}

static void config(const uint8_t *d, size_t n)
{
	char path[8192];
	struct vault *w;

	put("config.json", d, n);
	snprintf(path, sizeof(path), "%s/v", dir);
	if (!vault_open(path, &w))
		vault_close(w);
	put("config.json", config_json, config_len);
}

static void job(const uint8_t *d, size_t n)
{
	const char *name = "jobs/20261201T000000Z-0123abcd.json";
	void *a;

	put(name, d, n);
	if (!job_list(v, &a))
		json_object_put(a);
	drop(name);
}

static void log_event(const uint8_t *d, size_t n)
{
	/* The event after the vault's own first one ("init"). */
	const char *name = "log/000000000002-0123abcd.json";
	struct log_events l;
	char why[256];

	put(name, d, n);
	if (!vault_log_read(v, &l)) {
		vault_log_verify(v, &l, why, sizeof(why));
		log_events_free(&l);
	}
	drop(name);
}

static void lock(const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	char name[512] = "locks/";
	struct vault_lock_info *li;
	size_t len, nli, bad;

	len = nl ? (size_t)(nl - d) : n;
	/* One plain file name: the store refuses anything else. */
	if (!len || len > 255 || memchr(d, '/', len) || memchr(d, 0, len) ||
	    (len <= 2 && d[0] == '.'))
		return;
	memcpy(name + 6, d, len);
	name[6 + len] = 0;
	put(name, nl ? nl + 1 : d + n, nl ? n - len - 1 : 0);
	if (!vault_lock_list(v, &li, &nli, &bad))
		free(li);
	drop(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0: config(data + 1, size - 1); break;
	case 1: job(data + 1, size - 1); break;
	case 2: log_event(data + 1, size - 1); break;
	case 3: lock(data + 1, size - 1); break;
	}
	return 0;
}
