/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_SEEN_H
#define CRYPTSNAP_VAULT_SEEN_H

/*
 * What this host has seen of a vault's catalogue of points: the highest
 * catalogue counter, in <state dir>/vaults/<vault id hex>/catalogue.json
 * (directory 0700, file 0600; state dir from disk_state_dir()).  Outside
 * the vault, so a vault writer cannot roll it back.
 */
#include <stdint.h>

/* *counter = 0 when this host never saw a catalogue of the vault. */
int vault_seen_get(const char *vault_id_hex, uint64_t *counter);
/* Records counter if it is higher than the one recorded. */
int vault_seen_put(const char *vault_id_hex, uint64_t counter);

#endif
