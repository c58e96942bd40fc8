/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_KEYS_H
#define CRYPTSNAP_VAULT_KEYS_H

/*
 * The keyring object ("keys.json"): DEKs and the MAC key, each wrapped by
 * the KEK, plus the KEK's mode, generation and fingerprint.  Unwrapped
 * keys live in secure memory.
 */
#include <limits.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_kek.h"

#define KEYS_OBJECT "keys.json"

struct vault_keys {
	enum kek_mode mode;
	uint32_t gen;
	uint8_t fp[KEK_FP_LEN];
	char kek_file[PATH_MAX];
	unsigned int ndeks;
	uint8_t dek_id[VAULT_MAX_DEKS];
	uint8_t *dek[VAULT_MAX_DEKS];
	uint8_t cur_dek;
	uint8_t *mac;
	struct vault_kek *kek;		/* owned */
};

/* New keyring with one random DEK and a random MAC key; takes kek. */
int keys_create(struct vault_kek *kek, const char *kek_file, struct vault_keys **out);
/* Parses keys.json without unwrapping (for key show). */
int keys_peek(const void *buf, size_t len, struct vault_keys **out);
/* Parses and unwraps with the KEK from kek_file (or the recorded file).
 * -EKEYREJECTED when the KEK is not the vault's. */
int keys_open(const void *buf, size_t len, const char *kek_file,
	      struct vault_keys **out);
/* Serialises, wrapping every key with k->kek. */
int keys_encode(const struct vault_keys *k, char **out, size_t *len);
const uint8_t *keys_dek(const struct vault_keys *k, uint8_t id);
void keys_free(struct vault_keys *k);

#endif
