// SPDX-License-Identifier: GPL-2.0
/*
 * The vault keyring, keys.json (vault_keys.c).  Byte 0 picks how:
 *   0: read without a KEK, as every open does first (keys_peek): header,
 *      fingerprint, wrapped DEKs;
 *   1: read and unwrapped with the KEK of the vault the seeds come from
 *      (keys_open), data/keyring.kek and data/keyring.id, which
 *      tests/fuzz/mkcorpus.sh writes with the corpus.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/util.h"
#include "vault/vault.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char kek_file[4096];
static uint8_t vault_id[VAULT_ID_LEN];

static void die(const char *what)
{
	fprintf(stderr, "fuzz_keyring: %s\n", what);
	abort();
}

static void cleanup(void)
{
	unlink(kek_file);
}

/* kek_load() wants the key file 0600; git checks it out 0644. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char hex[2 * VAULT_ID_LEN + 2] = "";
	uint8_t key[64];
	ssize_t n;
	FILE *f;
	int fd;

	f = fopen(FUZZ_DATA "/keyring.id", "r");
	if (!f || !fgets(hex, sizeof(hex), f))
		die(FUZZ_DATA "/keyring.id");
	fclose(f);
	hex[strcspn(hex, "\n")] = 0;
	if (hex_decode(hex, vault_id, VAULT_ID_LEN))
		die("keyring.id: not a vault id");
	fd = open(FUZZ_DATA "/keyring.kek", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, key, sizeof(key));
	if (fd < 0 || n <= 0)
		die(FUZZ_DATA "/keyring.kek");
	close(fd);
	snprintf(kek_file, sizeof(kek_file), "%s/cryptsnap-fuzz-XXXXXX",
		 getenv("TMPDIR") ?: "/tmp");
	fd = mkstemp(kek_file);
	if (fd < 0 || write(fd, key, (size_t)n) != n || close(fd))
		die("temporary KEK file");
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_keys *k;
	struct vault_kek *kek;

	if (!size)
		return 0;
	if (!(data[0] & 1)) {
		if (!keys_peek(data + 1, size - 1, &k))
			keys_free(k);
		return 0;
	}
	if (kek_load(kek_file, &kek))
		die("kek_load");
	if (!keys_open(data + 1, size - 1, vault_id, kek, kek_file, &k))
		keys_free(k);
	return 0;
}
