// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/secmem.h"
#include "store/backend.h"
#include "sys/disk_state.h"
#include "lib/util.h"
#include "vault/vault_catalogue.h"
#include "vault/vault_kek.h"
#include "vault/vault_pin.h"

int exit_code(int err)
{
	switch (-err) {
	case 0: return EXIT_OK;
	case ENOENT: case ESRCH: case ENOTDIR: return EXIT_NOTFOUND;
	case EKEYREJECTED: case ENOKEY: case EPERM: case EKEYREVOKED: return EXIT_KEY;
	case EBADMSG: case EUCLEAN: return EXIT_CORRUPT;
	case EBUSY: case EAGAIN: return EXIT_BUSY;
	case ENOSPC: case EDQUOT: return EXIT_NOSPACE;
	case EINVAL: return EXIT_USAGE;
	default: return EXIT_FAIL;
	}
}

/* Key memory that could not be locked surfaces as ENOMEM from any layer. */
static const char *lock_reason(int err)
{
	if (err == -ENOMEM && secmem_lock_failed())
		return "memory for key material cannot be locked (mlock failed: raise "
		       "RLIMIT_MEMLOCK or run as root)";
	return NULL;
}

static const char *reason(int err)
{
	if (lock_reason(err))
		return lock_reason(err);
	switch (-err) {
	case EKEYREJECTED: return "wrong KEK: this key does not unwrap the vault keys";
	case ENOKEY: return "no key material for this object";
	case EKEYREVOKED: return "the vault's keyring does not match the KEK pinned on this host";
	case EBADMSG: return "authentication failed (data damaged or tampered)";
	case EUCLEAN: return "malformed vault object";
	case EPROTONOSUPPORT: return "unsupported vault format version";
	case EBUSY: return "vault is locked by another job";
	case EPERM: return "key file is readable by group or others (must be 0600)";
	default: return strerror(-err);
	}
}

/* "cryptsnap <cmd>: <message>[: <why>]\n" on stderr. */
static void vreport(const char *cmd, const char *why, const char *fmt, va_list ap)
{
	char detail[160];

	fprintf(stderr, "cryptsnap %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	if (why)
		fprintf(stderr, ": %s", why);
	backend_error_detail(detail, sizeof(detail));
	if (*detail)
		fprintf(stderr, " (%s)", detail);
	fputc('\n', stderr);
}

int fail(const char *cmd, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, reason(err), fmt, ap);
	va_end(ap);
	return exit_code(err);
}

int fail_errno(const char *cmd, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, lock_reason(err) ? lock_reason(err) : err ? strerror(-err) : NULL, fmt, ap);
	va_end(ap);
	return err ? exit_code(err) : EXIT_FAIL;
}

int cli_vault(const char *cmd, const char *loc, int unlock, const char *kek,
	      struct vault **out)
{
	int r;

	if (!loc) {
		fprintf(stderr, "cryptsnap %s: --vault is required\n", cmd);
		return EXIT_USAGE;
	}
	r = vault_open(loc, out);
	if (r < 0)
		return fail(cmd, r, "cannot open vault %s", loc);
	if (!unlock && !kek)
		return EXIT_OK;
	r = vault_unlock(*out, kek);
	if (r < 0) {
		char pin[4096] = "";

		vault_pin_path(*out, pin, sizeof(pin));
		vault_close(*out);
		*out = NULL;
		if (r == -ENOKEY) {
			fprintf(stderr, "cryptsnap %s: cannot unlock vault %s: this host holds "
				"no KEK for it; name it with --kek FILE (it is then pinned in %s)\n",
				cmd, loc, pin);
			return EXIT_KEY;
		}
		if (r == -EBADE) {
			fprintf(stderr, "cryptsnap %s: cannot unlock vault %s: the pin %s is not "
				"trusted (owner, mode or content); remove it to pin again\n",
				cmd, loc, pin);
			return EXIT_KEY;
		}
		if (r == -EKEYREVOKED)
			return fail(cmd, r, "cannot unlock vault %s (pin %s)", loc, pin);
		if (r == -ERANGE)
			return fail_kek(cmd, r, kek);
		return fail(cmd, r, "cannot unlock vault %s%s%s", loc,
			    kek ? " with " : "", kek ? kek : "");
	}
	return EXIT_OK;
}

int cli_uint(const char *cmd, const char *opt, const char *arg, unsigned int min,
	     unsigned int max, unsigned int *out)
{
	int r = parse_uint(arg, min, max, out);

	if (!r)
		return 0;
	fprintf(stderr, "cryptsnap %s: bad %s '%s': %s (a whole number, %u..%u)\n", cmd, opt,
		arg, r == -ERANGE ? "out of range" : "not a number", min, max);
	return EXIT_USAGE;
}

int cli_size(const char *cmd, const char *opt, const char *arg, uint64_t min,
	     uint64_t max, uint64_t *out)
{
	char lo[32], hi[32];
	uint64_t v;
	int r = parse_size(arg, &v);

	if (!r && (v < min || v > max))
		r = -ERANGE;
	if (!r) {
		*out = v;
		return 0;
	}
	format_bytes(min, lo, sizeof(lo));
	format_bytes(max, hi, sizeof(hi));
	fprintf(stderr, "cryptsnap %s: bad %s '%s': %s (a size such as 64K, 16M, 2G; %s..%s)\n",
		cmd, opt, arg, r == -ERANGE ? "out of range" : "not a size", lo, hi);
	return EXIT_USAGE;
}

int cli_catalogue_ensure(const char *cmd, struct vault *v)
{
	char why[192] = "";
	struct blob_ctx c;
	uint64_t built = 0;
	int r = blob_ctx_init(&c, v);

	if (!r)
		r = vault_catalogue_ensure(v, &c, &built, why, sizeof(why));
	blob_ctx_free(&c);
	if (r < 0 && why[0]) {
		fprintf(stderr, "cryptsnap %s: %s\n", cmd, why);
		return exit_code(r);
	}
	if (r < 0)
		return fail(cmd, r, "cannot read the catalogue of points");
	if (built)
		fprintf(stderr, "cryptsnap %s: note: catalogue of points built from the "
			"%llu points present (vault written by an older build)\n", cmd,
			(unsigned long long)built);
	return EXIT_OK;
}

int cli_catalogue_damage(struct vault *v, struct name_list *lines, int *absent)
{
	struct cat_check ck = { 0 };
	struct blob_ctx c;
	int r = blob_ctx_init(&c, v);

	if (!r)
		r = vault_catalogue_check(v, &c, &ck);
	blob_ctx_free(&c);
	*lines = ck.damage;
	*absent = ck.absent;
	return r;
}

int cli_catalogue_report(const char *cmd, struct vault *v, int print, int say)
{
	struct name_list dmg = { 0 };
	int absent = 0, r = cli_catalogue_damage(v, &dmg, &absent);
	size_t i;

	if (r < 0) {
		name_list_free(&dmg);
		return say ? fail(cmd, r, "cannot check the catalogue of points") : exit_code(r);
	}
	for (i = 0; print && i < dmg.n; i++)
		printf("DAMAGED catalogue: %s\n", dmg.names[i]);
	if (print && absent)
		printf("catalogue of points: none yet (vault written by an older build); "
		       "the next backup or prune builds it\n");
	if (say && dmg.n)
		fprintf(stderr, "cryptsnap %s: %s%s\n", cmd, dmg.names[0],
			dmg.n > 1 ? " (and more, see verify)" : "");
	r = dmg.n ? EXIT_CORRUPT : EXIT_OK;
	name_list_free(&dmg);
	return r;
}

int fail_kek(const char *cmd, int err, const char *file)
{
	if (err != -ERANGE)
		return fail(cmd, err, "cannot use KEK %s", file ? file : "");
	fprintf(stderr, "cryptsnap %s: refused KEK %s: not a 32-byte AES key or an RSA "
		"key of %d to %d bits\n", cmd, file ? file : "", KEK_RSA_MIN_BITS,
		KEK_RSA_MAX_BITS);
	return EXIT_KEY;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw(struct monitor *m, uint64_t done)
{
	double el = now_seconds() - m->start, rate = el > 0 ? done / el : 0;
	char d[32], t[32], rt[32];
	int pct = m->total ? (int)(done * 100 / m->total) : 0, i;
	long eta = rate > 0 && m->total > done ? (long)((m->total - done) / rate) : 0;
	char bar[31];

	for (i = 0; i < 30; i++)
		bar[i] = i < pct * 30 / 100 ? '#' : '.';
	bar[30] = 0;
	format_bytes(done, d, sizeof(d));
	format_bytes(m->total, t, sizeof(t));
	format_bytes((uint64_t)rate, rt, sizeof(rt));
	fprintf(stderr, "\r%s [%s] %3d%% %s/%s %s/s ETA %ld:%02ld ", m->label, bar,
		MIN(pct, 100), d, t, rt, eta / 60, eta % 60);
	fflush(stderr);
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	struct timespec ts;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		uint64_t done = __atomic_load_n(m->counter, __ATOMIC_RELAXED);

		if (m->tty)
			draw(m, done);
		if (m->job)
			job_update(m->job, done, 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cond, &m->mu, &ts);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

void monitor_start(struct monitor *m, struct vault_job *job, const uint64_t *counter,
		   uint64_t total, const char *label)
{
	memset(m, 0, sizeof(*m));
	m->job = job;
	m->counter = counter;
	m->total = total;
	m->label = label;
	m->tty = isatty(STDERR_FILENO);
	m->start = now_seconds();
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->running = !pthread_create(&m->t, NULL, monitor_main, m);
}

void monitor_stop(struct monitor *m)
{
	if (!m->running)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->t, NULL);
	if (m->tty) {
		draw(m, __atomic_load_n(m->counter, __ATOMIC_RELAXED));
		fputc('\n', stderr);
	}
	m->running = 0;
}

void trace_phase(const char *env, const char *cmd, const char *name)
{
	static double last;
	double t;

	if (!getenv(env))
		return;
	t = now_seconds();
	if (last > 0)
		fprintf(stderr, "%s trace: phase %-20s %8.3f s\n", cmd, name, t - last);
	last = t;
}

void backup_trace(struct vault_backup *vb)
{
	static const char *const names[BACKUP_STAGES] = {
		[BACKUP_STAGE_READ_WAIT] = "caller waits for a buffer",
		[BACKUP_STAGE_WORK] = "workers hash+seal",
		[BACKUP_STAGE_WORK_WAIT] = "workers idle",
		[BACKUP_STAGE_PACK_WAIT] = "workers wait for a pack",
		[BACKUP_STAGE_PUT] = "pack puts (summed)",
		[BACKUP_STAGE_COMMIT] = "commit (index, point)",
	};
	struct vault_backup_stats st;
	int k;

	if (!getenv("CRYPTSNAP_BACKUP_TRACE"))
		return;
	vault_backup_stats(vb, &st);
	for (k = 0; k < BACKUP_STAGES; k++)
		fprintf(stderr, "backup trace: %-26s %8.3f s\n", names[k],
			(double)st.stage_ns[k] / 1e9);
}

/* "CMD [--help] DISK" of a protected disk, loaded into *d: EXIT_OK; -1 after
 * --help; an exit code after an error (said). */
int cli_one_disk_arg(const char *cmd, int argc, char **argv, const char *usage,
		     struct disk_state *d)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: %s\n", usage);
			return -1;
		}
		fprintf(stderr, "usage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return EXIT_USAGE;
	}
	r = disk_state_load(argv[optind], d);
	if (r)
		return fail_errno(cmd, r, "unknown disk '%s'", argv[optind]);
	return EXIT_OK;
}
