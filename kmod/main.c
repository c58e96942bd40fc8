// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cryptsnap: change tracking and copy-on-write snapshots underneath
 * dm-crypt, so encrypted disks can be backed up without decryption.
 */
#include <linux/module.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"

static int __init cryptsnap_init(void)
{
	int ret;

	ret = cs_snap_module_init();
	if (ret < 0)
		goto err_snap;
	ret = cs_target_register();
	if (ret < 0)
		goto err_target;
	ret = cs_view_register();
	if (ret < 0)
		goto err_view;
	return 0;

err_view:
	cs_target_unregister();
err_target:
	cs_snap_module_exit();
err_snap:
	return ret;
}

static void __exit cryptsnap_exit(void)
{
	cs_view_unregister();
	cs_target_unregister();
	cs_snap_module_exit();
}

module_init(cryptsnap_init);
module_exit(cryptsnap_exit);

MODULE_DESCRIPTION(DM_NAME " change tracking and COW snapshots under dm-crypt");
MODULE_AUTHOR("cryptsnap developers");
MODULE_LICENSE("GPL");
/* dm asks for "dm-<target>": make both target names load this module. */
MODULE_ALIAS("dm-" CRYPTSNAP_TARGET_NAME);
MODULE_ALIAS("dm-" CRYPTSNAP_VIEW_TARGET_NAME);
