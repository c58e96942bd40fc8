/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_KEYS_H
#define CRYPTSNAP_VAULT_KEYS_H

/*
 * The keyring object ("keys.json"): DEKs and the MAC key, each wrapped by
 * the KEK, plus the KEK's mode, generation and fingerprint.  Unwrapped
 * keys live in secure memory.  The keyring never says where the KEK is:
 * the host decides that (vault_pin.h); kek_file below is the host's path,
 * filled in by vault_unlock() and vault_init().
 */
#include <limits.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_kek.h"

#define KEYS_OBJECT	"keys.json"
/* 255 DEKs wrapped by a 16384-bit RSA key are about 1.1 MB of JSON. */
#define KEYS_MAX	(2 << 20)
/*
 * Use budget of one DEK: blobs sealed with random 96-bit GCM nonces.
 * NIST SP 800-38D caps random-nonce invocations at 2^32 per key; a DEK
 * is replaced once 2^28 are counted (at the next prune or key rotate).
 */
#define DEK_BUDGET	(1ULL << 28)

struct vault_keys {
	enum kek_mode mode;
	uint32_t gen;
	uint8_t fp[KEK_FP_LEN];
	uint8_t vault_id[VAULT_ID_LEN];	/* wraps are bound to it */
	char kek_file[PATH_MAX];	/* host side, never from the vault */
	unsigned int ndeks;
	uint8_t dek_id[VAULT_MAX_DEKS];
	uint8_t *dek[VAULT_MAX_DEKS];
	uint64_t sealed[VAULT_MAX_DEKS];	/* blobs counted per DEK */
	uint8_t cur_dek;
	uint8_t *mac;
	int legacy_wraps;		/* read from a keyring of wrap version 1 */
	uint64_t session_sealed;	/* this process, under cur_dek (atomic) */
	struct vault_kek *kek;		/* owned */
};

#define KEYS_DIGEST_LEN	32

/* New keyring with one random DEK and a random MAC key; takes kek.
 * -EINVAL for a vault-managed mode with a key that is not AES. */
int keys_create(struct vault_kek *kek, enum kek_mode mode, const uint8_t *vault_id,
		const char *kek_file, struct vault_keys **out);
/* Parses keys.json without unwrapping (mode, generation, fingerprint). */
int keys_peek(const void *buf, size_t len, struct vault_keys **out);
/* Parses and unwraps with kek, which it takes (freed on failure).
 * -EKEYREJECTED when kek is not the KEK the keyring names by fingerprint
 * or does not unwrap it. */
int keys_open(const void *buf, size_t len, const uint8_t *vault_id,
	      struct vault_kek *kek, const char *kek_file, struct vault_keys **out);
/* Adds a new random DEK and makes it current; -ENOSPC when all 255 ids
 * are used.  The new DEK is only in memory until keys_encode() is put. */
int keys_add_dek(struct vault_keys *k);
/* Drops the DEK keys_add_dek() added last (the put failed). */
void keys_drop_dek(struct vault_keys *k, uint8_t prev_cur);
/* What a host pins about the unwrapped keys: HMAC-SHA-256 under the MAC
 * key over mode, generation, fingerprint and every DEK.  A keyring built
 * around a key the host does not hold, or with other DEKs, differs. */
int keys_digest(const struct vault_keys *k, uint8_t out[KEYS_DIGEST_LEN]);
/* Serialises, wrapping every key with k->kek, each wrap bound to its role
 * (DEK and its id, or MAC key) and to the vault id. */
int keys_encode(const struct vault_keys *k, char **out, size_t *len);
const uint8_t *keys_dek(const struct vault_keys *k, uint8_t id);
void keys_free(struct vault_keys *k);

#endif
