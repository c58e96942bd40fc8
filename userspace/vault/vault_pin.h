/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_PIN_H
#define CRYPTSNAP_VAULT_PIN_H

/*
 * What this host trusts about a vault's keys, kept outside the vault in
 * $CRYPTSNAP_STATE_DIR/vaults/<vault id>/pin.json (directory 0700, file
 * 0600): the KEK's mode, type, generation, fingerprint and file, and a
 * digest of the unwrapped keyring (keys_digest()).  A keyring that does
 * not match is refused (vault_unlock(): -EKEYREVOKED).
 *
 * During a KEK rotation "next" holds the KEK being switched to (and
 * whether this host generated its file); after the commit "retired" names
 * the vault-managed key file to delete.  Both come only from this host,
 * so recovering an interrupted rotation never takes a path from the vault.
 */
#include <limits.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_kek.h"
#include "vault/vault_keys.h"

#define PIN_FILE	"pin.json"

struct pin_kek {
	enum kek_mode mode;
	enum kek_type type;
	uint32_t gen;
	uint8_t fp[KEK_FP_LEN];
	uint8_t digest[KEYS_DIGEST_LEN];
	char file[PATH_MAX];
};

struct vault_pin {
	struct pin_kek cur;
	int has_next, next_generated;
	struct pin_kek next;
	char retired[PATH_MAX];		/* "" when none */
	/* The newest activity-log event this host wrote (vault_log.c). */
	uint64_t log_seq;		/* 0: none */
	uint8_t log_mac[32];
	/* Soft delete as this host last saw or set it (vault_softdel.h);
	 * once locked, saving never unlocks it nor shortens the grace. */
	int has_retention, retention_lock;
	int64_t deleted_grace;
};

/* <state dir>/vaults/<vault id hex>/pin.json */
int vault_pin_path(const struct vault *v, char *out, size_t len);
/* -ENOENT when this host has no pin for v; -EUCLEAN when it is not a pin
 * of this vault; -EPERM when group or others may write it. */
int vault_pin_load(const struct vault *v, struct vault_pin *p);
/* Atomic, durable replace (directories created 0700, file 0600). */
int vault_pin_save(const struct vault *v, const struct vault_pin *p);
/* The pin entry describing an unlocked keyring and its KEK. */
int vault_pin_from_keys(const struct vault_keys *k, struct pin_kek *out);
/* Whether a keyring's header (keys_peek()) is the one pinned in e:
 * same mode, generation and fingerprint. */
int vault_pin_matches(const struct pin_kek *e, const struct vault_keys *hdr);

#endif
