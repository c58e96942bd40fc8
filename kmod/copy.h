/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_COPY_H
#define CRYPTSNAP_COPY_H

struct cs_snap;
struct work_struct;

void cs_copy_kick(struct cs_snap *s);
void cs_copy_release_blocked(struct cs_snap *s);
void cs_copy_work(struct work_struct *work);
void cs_copy_watchdog(struct work_struct *work);

#endif
