// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap mount --point ID DIR [--vault V] [--key-file F] [--block-only]
 * cryptsnap umount DIR
 *
 * mount forks a daemon that owns the whole stack of one mounted point:
 *
 *   vault chunks -> point_reader (LRU, shared) -> nbd_serve (one thread
 *     per CPU, replies out of order) -> /dev/nbdN (ro)
 *     -> dm-crypt read-only (libcryptsetup, key in the kernel keyring)
 *     -> mount(2) read-only at DIR (ext4: noload, xfs: norecovery)
 *
 * Plaintext exists only in the kernel's page cache.  The parent waits for
 * the daemon to say the mount is up (or why it is not) and exits with
 * that code.  The daemon records itself in MOUNT_STATE_DIR/nbdN; SIGTERM
 * (from umount) makes it tear everything down.  A killed daemon's state
 * is cleaned by the next umount or mount.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "cli/mount.h"
#include "lib/fsutil.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/blkdev.h"
#include "sys/luks.h"
#include "sys/nbd.h"
#include "sys/protect.h"
#include "vault/point_reader.h"
#include "vault/vault_escrow.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"

#define MOUNT_CACHE	(64U << 20)
#define MOUNT_THREADS	8
#define DM_PREFIX	"cryptsnap-mnt-"
#define READY_WAIT_MS	30000
#define STOP_WAIT_MS	30000

/* One mount's record: MOUNT_STATE_DIR/nbdN. */
struct mstate {
	long pid;
	int nbd;
	int fs;			/* 1: a filesystem is mounted at dir */
	char dir[PATH_MAX];
	char dm[64];
	char point[POINT_ID_MAX];
};

/* What the daemon holds. */
struct daemon {
	const struct mount_args *a;
	const char *cmd;
	struct vault *v;
	struct blob_ctx c;
	struct bindex bi;
	struct manifest m;
	struct point_reader *pr;
	struct nbd_dev nbd;
	pthread_t serve_t, run_t;
	int serving, running, opened, have_m, have_bi, have_c;
	uint64_t last_bad;
	uint64_t requests, bytes;	/* served, atomic */
	struct mstate st;
	pthread_mutex_t mu;
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A zombie counts as gone: nobody may reap an orphaned daemon (the test
 * VM's init does not). */
static int pid_alive(long pid)
{
	char p[64], buf[256], *e;
	ssize_t n;
	int fd;

	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	e = strrchr(buf, ')');
	return !(e && e[1] == ' ' && (e[2] == 'Z' || e[2] == 'X'));
}

/* ---- state files ---- */

static void state_path(int nbd, char *p, size_t len)
{
	snprintf(p, len, MOUNT_STATE_DIR "/nbd%d", nbd);
}

static int state_write(const struct mstate *s)
{
	char p[128], buf[PATH_MAX + 256];
	int fd, n, r;

	r = mkdir_p(MOUNT_STATE_DIR);
	if (r < 0)
		return r;
	chmod(MOUNT_STATE_DIR, 0700);
	state_path(s->nbd, p, sizeof(p));
	n = snprintf(buf, sizeof(buf), "pid %ld\nnbd %d\nfs %d\ndm %s\npoint %s\ndir %s\n",
		     s->pid, s->nbd, s->fs, s->dm, s->point, s->dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_full(fd, buf, (size_t)n);
	close(fd);
	return r;
}

static int state_field(struct mstate *s, const char *k, const char *val)
{
	if (!strcmp(k, "pid"))
		s->pid = strtol(val, NULL, 10);
	else if (!strcmp(k, "nbd"))
		s->nbd = (int)strtol(val, NULL, 10);
	else if (!strcmp(k, "fs"))
		s->fs = val[0] == '1';
	else if (!strcmp(k, "dm"))
		snprintf(s->dm, sizeof(s->dm), "%s", val);
	else if (!strcmp(k, "point"))
		snprintf(s->point, sizeof(s->point), "%s", val);
	else if (!strcmp(k, "dir"))
		snprintf(s->dir, sizeof(s->dir), "%s", val);
	return 0;
}

static int state_read(const char *path, struct mstate *s)
{
	char line[PATH_MAX + 16];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	memset(s, 0, sizeof(*s));
	s->nbd = -1;
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		line[strcspn(line, "\n")] = 0;
		if (!sp)
			continue;
		*sp = 0;
		state_field(s, line, sp + 1);
	}
	fclose(f);
	return s->nbd >= 0 && s->dm[0] && !strncmp(s->dm, DM_PREFIX, strlen(DM_PREFIX)) ?
	       0 : -EUCLEAN;
}

/* The record of the mount at dir (canonical), or -ENOENT. */
static int state_find(const char *dir, struct mstate *out)
{
	DIR *d = opendir(MOUNT_STATE_DIR);
	struct dirent *e;
	int r = -ENOENT;

	if (!d)
		return -ENOENT;
	while (r && (e = readdir(d))) {
		char p[PATH_MAX];

		if (strncmp(e->d_name, "nbd", 3) || strchr(e->d_name, '.'))
			continue;
		snprintf(p, sizeof(p), MOUNT_STATE_DIR "/%s", e->d_name);
		if (!state_read(p, out) && !strcmp(out->dir, dir))
			r = 0;
	}
	closedir(d);
	return r;
}

/* ---- teardown of what a dead daemon left ---- */

static int dm_remove(const char *name)
{
	int i, r = 0;

	for (i = 0; i < 50; i++) {
		r = luks_close(name);
		if (r != -EBUSY)
			break;
		sleep_ms(100);
	}
	return r == -ENODEV ? 0 : r;
}

static int cleanup_dead(const char *cmd, const struct mstate *s)
{
	char p[128];
	int r;

	if (s->fs && umount2(s->dir, 0) < 0 && errno != EINVAL && errno != ENOENT)
		return fail_errno(cmd, -errno, "cannot unmount %s (left by a dead mount "
				  "daemon)", s->dir);
	r = dm_remove(s->dm);
	if (r < 0)
		return fail_errno(cmd, r, "cannot remove /dev/mapper/%s", s->dm);
	/* Usually gone with the dm device, its last user; if not, let go. */
	if (nbd_in_use(s->nbd))
		nbd_release(s->nbd);
	state_path(s->nbd, p, sizeof(p));
	unlink(p);
	strcat(p, ".log");
	unlink(p);
	return EXIT_OK;
}

/* Records whose daemon is gone: tear down what they left. */
static void cleanup_stale(const char *cmd)
{
	DIR *d = opendir(MOUNT_STATE_DIR);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		struct mstate s;

		if (strncmp(e->d_name, "nbd", 3) || strchr(e->d_name, '.'))
			continue;
		snprintf(p, sizeof(p), MOUNT_STATE_DIR "/%s", e->d_name);
		if (state_read(p, &s) || pid_alive(s.pid))
			continue;
		fprintf(stderr, "cryptsnap %s: cleaning up the mount of point %s at %s "
			"(its daemon %ld is gone)\n", cmd, s.point, s.dir, s.pid);
		cleanup_dead(cmd, &s);
	}
	closedir(d);
}

/* ---- the daemon ---- */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fprintf(stderr, "%s\n", buf);
	fflush(stderr);
}

static int serve_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
	struct daemon *d = ctx;
	uint64_t bad = 0;
	int r = point_reader_read(d->pr, off, buf, len, &bad), first = 0;

	__atomic_add_fetch(&d->requests, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d->bytes, len, __ATOMIC_RELAXED);
	if (r < 0) {
		pthread_mutex_lock(&d->mu);
		first = bad != d->last_bad;
		d->last_bad = bad;
		pthread_mutex_unlock(&d->mu);
	}
	if (first) {
		log_line("cryptsnap[%ld]: point %s: chunk %llu is damaged (%s): read of "
			 "bytes %llu+%u fails with EIO", (long)getpid(), d->m.id,
			 (unsigned long long)bad, strerror(-r), (unsigned long long)off, len);
	}
	return r < 0 ? -EIO : 0;
}

/* One serving thread per CPU, at least 2 (a read waiting on the vault
 * should not hold up the next), at most MOUNT_THREADS. */
static unsigned int serve_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return (unsigned int)(n < 2 ? 2 : n > MOUNT_THREADS ? MOUNT_THREADS : n);
}

static void *serve_main(void *arg)
{
	struct daemon *d = arg;
	int r = nbd_serve(d->nbd.sock, serve_threads(), serve_read, d);

	if (r < 0)
		log_line("cryptsnap[%ld]: point %s: NBD connection failed: %s",
			 (long)getpid(), d->m.id, strerror(-r));
	return NULL;
}

static void *run_main(void *arg)
{
	struct daemon *d = arg;

	nbd_run(&d->nbd);
	/* The device is gone: tell the main thread. */
	kill(getpid(), SIGTERM);
	return NULL;
}

/* The point's own escrowed key, or the key file given. */
static int get_key(struct daemon *d, uint8_t **key, size_t *len)
{
	unsigned int i;
	int r = -ENOKEY;

	if (d->a->key_file) {
		r = key_read(d->a->key_file, key, len);
		return r < 0 ? fail_errno(d->cmd, r, "cannot read key file %s",
					  d->a->key_file) : EXIT_OK;
	}
	for (i = 0; i < d->m.nescrow; i++)
		if (d->m.escrow[i].kind == ESCROW_KEK && !strcmp(d->m.escrow[i].name, "key"))
			r = escrow_open(d->v, &d->c, d->m.id, &d->m.escrow[i], key, len);
	if (r < 0)
		return fail(d->cmd, r, "point %s has no usable escrowed key (give --key-file)",
			    d->m.id);
	return EXIT_OK;
}

static int load_point(struct daemon *d)
{
	int r;

	r = cli_vault(d->cmd, d->a->vault, 1, d->a->kek, &d->v);
	if (r)
		return r;
	mount_trace_phase("vault open+unlock");
	r = vault_lock(d->v, VAULT_LOCK_SHARED);
	if (r == -EBUSY)
		return cli_vault_busy(d->cmd, d->v, VAULT_LOCK_SHARED, "cannot lock vault");
	if (r < 0)
		return fail(d->cmd, r, "cannot lock vault");
	r = blob_ctx_init(&d->c, d->v);
	d->have_c = !r;
	if (!r) {
		r = vault_point_load(d->v, &d->c, d->a->point, &d->m);
		d->have_m = !r;
	}
	if (r < 0)
		return fail(d->cmd, r, "cannot read point %s", d->a->point);
	mount_trace_phase("lock+point load");
	r = bindex_init(&d->bi);
	d->have_bi = !r;
	if (!r)
		r = vault_index_load(d->v, &d->bi, NULL);
	if (!r)
		r = point_reader_open(d->v, &d->bi, &d->m, MOUNT_CACHE, &d->pr);
	mount_trace_phase("index load");
	return r < 0 ? fail(d->cmd, r, "cannot load the vault index") : EXIT_OK;
}

static int start_nbd(struct daemon *d)
{
	int i, r;

	r = nbd_attach(d->m.image_size, &d->nbd);
	if (r == -ENODEV)
		return fail_errno(d->cmd, 0, "no NBD device (/dev/nbd0 is missing): load the "
				  "kernel's nbd module first (modprobe nbd)");
	if (r == -EBUSY)
		return fail_errno(d->cmd, r, "every NBD device is in use");
	if (r < 0)
		return fail_errno(d->cmd, r, "cannot set up an NBD device");
	if (pthread_create(&d->serve_t, NULL, serve_main, d))
		return fail_errno(d->cmd, -EAGAIN, "cannot start the NBD server");
	d->serving = 1;
	if (pthread_create(&d->run_t, NULL, run_main, d))
		return fail_errno(d->cmd, -EAGAIN, "cannot start the NBD device");
	d->running = 1;
	/* Connected is not enough: the size comes after (nbd_ready()). */
	for (i = 0; i < READY_WAIT_MS / 20 && !nbd_ready(&d->nbd); i++)
		sleep_ms(20);
	if (!nbd_ready(&d->nbd))
		return fail_errno(d->cmd, -ETIMEDOUT, "%s did not come up (%s)", d->nbd.path,
				  nbd_connected(d->nbd.index) ? "connected, but its size "
				  "was not set" : "not connected");
	return EXIT_OK;
}

static int open_luks_dev(struct daemon *d)
{
	uint8_t *key = NULL;
	size_t len = 0;
	int r;

	r = get_key(d, &key, &len);
	if (r)
		return r;
	mount_trace_phase("escrowed key");
	snprintf(d->st.dm, sizeof(d->st.dm), DM_PREFIX "nbd%d", d->nbd.index);
	r = luks_open_readonly(d->nbd.path, d->st.dm, key, len);
	secmem_free(key);
	mount_trace_phase("LUKS open");
	if (r == -EPERM) {
		fprintf(stderr, "cryptsnap %s: the %s does NOT open point %s; not mounted\n",
			d->cmd, d->a->key_file ? "key file" : "escrowed key", d->m.id);
		return EXIT_KEY;
	}
	if (r == -ENODEV)
		return fail_errno(d->cmd, 0, "point %s is not a LUKS disk", d->m.id);
	if (r < 0)
		return fail_errno(d->cmd, r, "cannot open point %s read-only", d->m.id);
	d->opened = 1;
	return EXIT_OK;
}

/* Journal replay would write: ask each filesystem not to. */
static const char *ro_options(const char *type)
{
	if (!strcmp(type, "ext4") || !strcmp(type, "ext3"))
		return "noload";
	/* nouuid: the live filesystem of the same disk may be mounted. */
	if (!strcmp(type, "xfs"))
		return "norecovery,nouuid";
	if (!strcmp(type, "btrfs"))
		return "rescue=nologreplay";
	return "";
}

static int mount_fs(struct daemon *d)
{
	char dev[128], type[32];
	int r;

	snprintf(dev, sizeof(dev), "/dev/mapper/%s", d->st.dm);
	r = blk_probe_fstype(dev, type, sizeof(type));
	if (r < 0)
		return fail_errno(d->cmd, r == -ENODEV ? 0 : r, "no filesystem found in point "
				  "%s (use --block-only for the block device)", d->m.id);
	if (mount(dev, d->st.dir, type, MS_RDONLY | MS_NOSUID | MS_NODEV, ro_options(type)) < 0)
		return fail_errno(d->cmd, -errno, "cannot mount the %s filesystem of point %s "
				  "at %s", type, d->m.id, d->st.dir);
	d->st.fs = 1;
	if (!d->a->quiet)
		printf("mounted point %s of disk %s at %s (%s, read-only; %s on %s)\n",
		       d->m.id, d->m.disk, d->st.dir, type, dev, d->nbd.path);
	return EXIT_OK;
}

static int daemon_up(struct daemon *d)
{
	int r;

	r = load_point(d);
	if (!r)
		r = start_nbd(d);
	mount_trace_phase("NBD device up");
	if (!r) {
		d->st.pid = (long)getpid();
		d->st.nbd = d->nbd.index;
		snprintf(d->st.point, sizeof(d->st.point), "%s", d->m.id);
		r = open_luks_dev(d);
	}
	if (!r && state_write(&d->st) < 0)
		r = fail_errno(d->cmd, -errno, "cannot write " MOUNT_STATE_DIR);
	if (!r && !d->a->block_only)
		r = mount_fs(d);
	mount_trace_phase("probe+mount");
	if (!r && d->a->block_only && !d->a->quiet)
		printf("point %s of disk %s is /dev/mapper/%s (read-only; ciphertext on %s)\n",
		       d->m.id, d->m.disk, d->st.dm, d->nbd.path);
	if (!r)
		r = state_write(&d->st) < 0 ? fail_errno(d->cmd, -errno, "cannot write "
							 MOUNT_STATE_DIR) : 0;
	return r;
}

/*
 * With CRYPTSNAP_MOUNT_TRACE set to an absolute path: what the daemon
 * served and the CPU time it took, appended there when it stops
 * (bench/mount-vm.sh shows it).
 */
static void trace_stats(struct daemon *d)
{
	const char *path = getenv("CRYPTSNAP_MOUNT_TRACE");
	struct point_reader_stats st;
	struct rusage ru;
	FILE *f;

	if (!path || path[0] != '/' || !d->pr || getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	f = fopen(path, "ae");
	if (!f)
		return;
	point_reader_stats(d->pr, &st);
	fprintf(f, "mount trace: %llu requests, %llu MiB served; %llu backend reads, "
		"%llu chunks fetched, %llu cache hits, %llu zero; cpu user %.2f s, "
		"system %.2f s\n", (unsigned long long)d->requests,
		(unsigned long long)(d->bytes >> 20), (unsigned long long)st.reads,
		(unsigned long long)st.fetched, (unsigned long long)st.hits,
		(unsigned long long)st.zero,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	fclose(f);
}

static void daemon_down(struct daemon *d)
{
	char p[128];

	if (d->st.fs && umount2(d->st.dir, 0) < 0 && errno != EINVAL)
		log_line("cryptsnap[%ld]: cannot unmount %s: %s", (long)getpid(), d->st.dir,
			 strerror(errno));
	if (d->opened && dm_remove(d->st.dm) < 0)
		log_line("cryptsnap[%ld]: cannot remove /dev/mapper/%s", (long)getpid(),
			 d->st.dm);
	if (d->running || d->serving)
		nbd_disconnect(&d->nbd);
	if (d->running)
		pthread_join(d->run_t, NULL);
	if (d->serving)
		pthread_join(d->serve_t, NULL);
	if (d->running || d->serving)
		nbd_close(&d->nbd);
	trace_stats(d);
	if (d->st.nbd >= 0) {
		state_path(d->st.nbd, p, sizeof(p));
		unlink(p);
		strcat(p, ".log");
		unlink(p);
	}
	point_reader_close(d->pr);
	if (d->have_bi)
		bindex_free(&d->bi);
	if (d->have_m)
		manifest_free(&d->m);
	if (d->have_c)
		blob_ctx_free(&d->c);
	if (d->v)
		vault_close(d->v);
}

/* The daemon's stderr from now on: MOUNT_STATE_DIR/nbdN.log, its log
 * (damaged chunks), which umount repeats. */
static void detach(const struct daemon *d)
{
	char p[128];
	int fd;

	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	state_path(d->st.nbd, p, sizeof(p));
	strcat(p, ".log");
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

/* Waits for SIGTERM/SIGINT/SIGHUP (or the device going away); a busy
 * filesystem stays mounted and the daemon keeps serving it. */
static void daemon_wait(struct daemon *d, const sigset_t *set)
{
	int sig;

	for (;;) {
		sigwait(set, &sig);
		if (!d->st.fs || umount2(d->st.dir, 0) == 0 || errno == EINVAL) {
			d->st.fs = 0;
			return;
		}
		log_line("cryptsnap[%ld]: %s is busy, still mounted: %s", (long)getpid(),
			 d->st.dir, strerror(errno));
	}
}

static int daemon_main(const char *cmd, const struct mount_args *a, const char *dir,
		       int wfd)
{
	struct daemon d = { .a = a, .cmd = cmd, .last_bad = UINT64_MAX,
			    .mu = PTHREAD_MUTEX_INITIALIZER };
	sigset_t set;
	int r;

	d.nbd.fd = d.nbd.sock = -1;
	d.st.nbd = -1;
	snprintf(d.st.dir, sizeof(d.st.dir), "%s", dir);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = daemon_up(&d);
	fflush(stdout);
	fflush(stderr);
	if (!r)
		detach(&d);
	if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = r ? r : EXIT_FAIL;
	close(wfd);
	if (!r)
		daemon_wait(&d, &set);
	daemon_down(&d);
	return r;
}

/* ---- the commands ---- */

static int check_dir(const char *cmd, const char *dir, char *real)
{
	struct stat st;

	if (!realpath(dir, real) || stat(real, &st) < 0)
		return fail_errno(cmd, -errno, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return fail_errno(cmd, 0, "%s is not a directory", dir);
	return EXIT_OK;
}

int mount_point(const char *cmd, const struct mount_args *a)
{
	char real[PATH_MAX];
	struct mstate s;
	int p[2], r, status;
	ssize_t n;
	pid_t pid;

	mount_trace_phase("start");
	r = check_dir(cmd, a->dir, real);
	if (r)
		return r;
	cleanup_stale(cmd);
	if (!state_find(real, &s))
		return fail_errno(cmd, 0, "%s already has point %s mounted (cryptsnap umount "
				  "%s)", real, s.point, real);
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail_errno(cmd, -errno, "pipe");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return fail_errno(cmd, -errno, "fork");
	if (pid == 0) {
		close(p[0]);
		_exit(daemon_main(cmd, a, real, p[1]));
	}
	close(p[1]);
	do
		n = read(p[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n != (ssize_t)sizeof(r)) {
		waitpid(pid, &status, 0);
		return fail_errno(cmd, 0, "the mount daemon died before it was ready");
	}
	if (r)
		waitpid(pid, &status, 0);
	return r;
}

/* Stops the daemon; it unmounts and removes its devices itself. */
static int stop_daemon(const char *cmd, const struct mstate *s)
{
	char p[128];
	int i;

	state_path(s->nbd, p, sizeof(p));
	kill((pid_t)s->pid, SIGTERM);
	for (i = 0; i < STOP_WAIT_MS / 50; i++) {
		if (!pid_alive(s->pid) || access(p, F_OK))
			break;
		sleep_ms(50);
	}
	for (; i < STOP_WAIT_MS / 50 && pid_alive(s->pid); i++)
		sleep_ms(50);
	if (pid_alive(s->pid))
		return fail_errno(cmd, 0, "mount daemon %ld of %s did not stop", s->pid, s->dir);
	return access(p, F_OK) ? EXIT_OK : cleanup_dead(cmd, s);
}

/* What the daemon logged (damaged chunks), repeated before it goes. */
static void show_log(const char *cmd, const struct mstate *s)
{
	char p[128], line[1024];
	FILE *f;

	state_path(s->nbd, p, sizeof(p));
	strcat(p, ".log");
	f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "cryptsnap %s: logged by the mount: %s", cmd, line);
	fclose(f);
}

int umount_dir(const char *cmd, const char *dir, int quiet)
{
	char real[PATH_MAX];
	struct mstate s;
	int r;

	r = check_dir(cmd, dir, real);
	if (r)
		return r;
	if (state_find(real, &s)) {
		cleanup_stale(cmd);
		fail_errno(cmd, 0, "no recovery point is mounted at %s", real);
		return EXIT_NOTFOUND;
	}
	/* Unmount here first, so a busy mount is refused with nothing changed. */
	if (s.fs && umount2(real, 0) < 0 && errno != EINVAL) {
		if (errno == EBUSY) {
			fprintf(stderr, "cryptsnap %s: %s is busy (a file is open or a process "
				"works in it); nothing was unmounted\n", cmd, real);
			return EXIT_BUSY;
		}
		return fail_errno(cmd, -errno, "cannot unmount %s", real);
	}
	show_log(cmd, &s);
	r = pid_alive(s.pid) ? stop_daemon(cmd, &s) : cleanup_dead(cmd, &s);
	if (!r && !quiet)
		printf("unmounted point %s from %s\n", s.point, real);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap mount [--vault VAULT] --point ID DIR [options]\n"
		"\n"
		"Opens recovery point ID in place, read-only, without restoring it: its\n"
		"ciphertext is served from the vault as a read-only NBD device (chunks\n"
		"fetched on demand), opened with the key escrowed with the point, and\n"
		"its filesystem mounted read-only at DIR.  cryptsnap umount DIR undoes\n"
		"it.  Needs the kernel's nbd module (modprobe nbd).\n"
		"  --key-file FILE    open with this passphrase/keyfile instead\n"
		"  --block-only       stop at the block device (/dev/mapper/...)\n"
		"  --kek FILE         KEK file instead of the recorded one\n");
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "point", required_argument, NULL, 'p' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "kek", required_argument, NULL, 'K' },
		{ "block-only", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct mount_args a = { 0 };
	char def[4096];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a.vault = optarg; break;
		case 'p': a.point = optarg; break;
		case 'k': a.key_file = optarg; break;
		case 'K': a.kek = optarg; break;
		case 'b': a.block_only = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!a.point || optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	a.dir = argv[optind];
	if (!a.vault) {
		if (disk_default_vault(def, sizeof(def))) {
			fprintf(stderr, "cryptsnap mount: --vault is required\n");
			return EXIT_USAGE;
		}
		a.vault = def;
	}
	return mount_point("mount", &a);
}

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cryptsnap umount DIR\n\nUnmounts the recovery point "
			       "mounted at DIR and removes its devices.\n");
			return EXIT_OK;
		}
		fprintf(stderr, "usage: cryptsnap umount DIR\n");
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: cryptsnap umount DIR\n");
		return EXIT_USAGE;
	}
	return umount_dir("umount", argv[optind], 0);
}
