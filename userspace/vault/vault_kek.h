/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_KEK_H
#define CRYPTSNAP_VAULT_KEK_H

/*
 * The key-encryption key: a 256-bit AES key (vault-managed, RFC 5649 key
 * wrap) or a customer RSA key (>= 2048 bits, OAEP-SHA-256).  Wraps DEKs,
 * the MAC key and escrowed secrets; never touches chunk data.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define KEK_WRAP_MAX	1024	/* RSA-8192 modulus */
#define KEK_RSA_MIN_BITS 2048
#define KEK_FP_LEN	32

struct vault_kek {
	enum kek_mode mode;
	uint8_t *aes;			/* secmem, vault-managed */
	struct crypto_rsa *rsa;		/* customer-managed */
	uint8_t fp[KEK_FP_LEN];
};

/* AES key files hold exactly 32 raw bytes and must not be readable by
 * group or others (-EPERM); anything else must be an RSA PEM key. */
int kek_load(const char *path, struct vault_kek **out);
/* Creates a new random vault-managed KEK file <dir>/<vault>-<gen>.kek. */
int kek_generate(const char *dir, const char *vault_hex, uint32_t gen,
		 char *path, size_t pathlen, struct vault_kek **out);
int kek_wrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	     uint8_t *out, size_t *outlen);
/* -EBADMSG when the KEK is not the one that wrapped. */
int kek_unwrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	       uint8_t *out, size_t *outlen, size_t outmax);
const char *kek_mode_name(enum kek_mode m);
void kek_free(struct vault_kek *k);

#endif
