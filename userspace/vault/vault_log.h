/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_LOG_H
#define CRYPTSNAP_VAULT_LOG_H

/*
 * The activity log of key changes (format in vault_log.c and
 * docs/vault-format.md): events chained by HMAC under a key derived from
 * the vault's MAC key, so edits, plants and removals are detected.
 * Appending: vault_log_event() (vault.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define LOG_KEEP	1000	/* chained events kept */
#define LOG_TRIM	100	/* removed at once past LOG_KEEP */

/* LOG_KEEP and LOG_TRIM; tests lower them to reach a trim quickly. */
extern unsigned int vault_log_keep, vault_log_trim;

struct log_event {
	char name[96];
	uint64_t seq;			/* 0: an older build's event */
	int64_t time;
	uint64_t uid, kek_gen;
	char event[64];
	char detail[512];
	uint8_t prev[32], mac[32];
	int chained, verified, damaged;
};

struct log_events {
	struct log_event *ev;		/* by seq, then time */
	size_t n;
};

int vault_log_read(struct vault *v, struct log_events *out);
/* 0 when the chain is whole; -EBADMSG with why filled in otherwise.
 * Marks verified events.  Needs unlocked keys. */
int vault_log_verify(struct vault *v, struct log_events *l, char *why, size_t whylen);
void log_events_free(struct log_events *l);

#endif
