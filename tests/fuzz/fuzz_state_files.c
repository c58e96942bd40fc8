// SPDX-License-Identifier: GPL-2.0
/*
 * The tool's local state files, read through its own code from a state
 * directory ($CRYPTSNAP_STATE_DIR, a temporary directory).  They are root's
 * own files, but a crash or a torn write can leave anything in them.
 * Byte 0 picks the file the rest of the input becomes:
 *   0: disks/d1.json, a protected disk's state (disk_state_load);
 *   1: vaults/<id>/catalogue.json, the catalogue counter this host last
 *      saw of a vault (vault_seen_get);
 *   2: vaults/<id>/pin.json, the KEK this host pinned (vault_pin_load).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/util.h"
#include "sys/disk_state.h"
#include "sys/vault_seen.h"
#include "vault/vault.h"
#include "vault/vault_pin.h"

#define VAULT_HEX "00112233445566778899aabbccddeeff"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[4096];
static struct vault v;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_state_files: %s: %s\n", what, strerror(errno));
	abort();
}

static void put(const char *name, const void *buf, size_t len)
{
	char path[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		die(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *sub[] = { "disks", "vaults", ("vaults/" VAULT_HEX) };
	char path[8192];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/cryptsnap-fuzz-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	setenv("CRYPTSNAP_STATE_DIR", dir, 1);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (mkdir(path, 0700))
			die(path);
	}
	snprintf(v.id_hex, sizeof(v.id_hex), VAULT_HEX);
	if (hex_decode(VAULT_HEX, v.id, VAULT_ID_LEN))
		die("vault id");
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_state d;
	struct vault_pin p;
	uint64_t counter;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		put("disks/d1.json", data + 1, size - 1);
		disk_state_load("d1", &d);
		break;
	case 1:
		put("vaults/" VAULT_HEX "/catalogue.json", data + 1, size - 1);
		vault_seen_get(VAULT_HEX, &counter);
		break;
	case 2:
		put("vaults/" VAULT_HEX "/pin.json", data + 1, size - 1);
		vault_pin_load(&v, &p);
		break;
	}
	return 0;
}
