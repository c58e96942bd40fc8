/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_KEK_H
#define CRYPTSNAP_VAULT_KEK_H

/*
 * The key-encryption key: a 256-bit AES key (RFC 5649 key wrap) or an RSA
 * key of 2048 .. 16384 bits (OAEP-SHA-256).  Wraps DEKs, the MAC key and
 * escrowed secrets; never touches chunk data.  Whether a KEK is
 * vault-managed or customer-managed is not a property of the key (an AES
 * key can be either): the keyring and the host pin record the mode.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define KEK_RSA_MIN_BITS 2048
#define KEK_RSA_MAX_BITS 16384
#define KEK_WRAP_MAX	(KEK_RSA_MAX_BITS / 8)	/* largest wrapped key */
#define KEK_FP_LEN	32

enum kek_type {
	KEK_TYPE_AES = 1,
	KEK_TYPE_RSA = 2,
};

struct vault_kek {
	enum kek_type type;
	uint8_t *aes;			/* secmem, KEK_TYPE_AES */
	struct crypto_rsa *rsa;		/* KEK_TYPE_RSA */
	uint8_t fp[KEK_FP_LEN];
};

/* AES key files hold exactly 32 raw bytes and must not be readable by
 * group or others (-EPERM); anything else must be an RSA PEM key
 * (-EKEYREJECTED if not, -ERANGE outside KEK_RSA_MIN_BITS .. MAX_BITS). */
int kek_load(const char *path, struct vault_kek **out);
/* Creates a new random AES KEK file <dir>/<vault>-<gen>.kek, durable
 * (file and directory fsynced) before it returns. */
int kek_generate(const char *dir, const char *vault_hex, uint32_t gen,
		 char *path, size_t pathlen, struct vault_kek **out);
/* The path a vault-managed KEK of generation gen has in dir. */
int kek_path(const char *dir, const char *vault_hex, uint32_t gen,
	     char *path, size_t pathlen);
/* out holds outmax bytes (KEK_WRAP_MAX always suffices). */
int kek_wrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	     uint8_t *out, size_t outmax, size_t *outlen);
/* -EBADMSG when the KEK is not the one that wrapped. */
int kek_unwrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	       uint8_t *out, size_t *outlen, size_t outmax);
const char *kek_mode_name(enum kek_mode m);
const char *kek_type_name(enum kek_type t);
void kek_free(struct vault_kek *k);

#endif
