/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_KMOD_H
#define CRYPTSNAP_KMOD_H

#include <linux/device-mapper.h>

#define DM_MSG_PREFIX "cryptsnap"

int cs_target_register(void);
void cs_target_unregister(void);
int cs_view_register(void);
void cs_view_unregister(void);
int cs_snap_module_init(void);
void cs_snap_module_exit(void);

#endif
