// SPDX-License-Identifier: GPL-2.0
/* cryptsnap vault init VAULT [--kek FILE] */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap vault init VAULT [--kek FILE] [--key-dir DIR] [--chunk-size SIZE]\n"
		"\n"
		"Creates an empty vault in directory VAULT.\n"
		"  --kek FILE        customer-managed KEK: an RSA PEM key of 2048 to 16384\n"
		"                    bits, or a 32-byte AES key file (mode 0600)\n"
		"  --key-dir DIR     where a new vault-managed KEK file is written\n"
		"                    (default $CRYPTSNAP_KEY_DIR or /var/lib/cryptsnap/keys)\n"
		"  --chunk-size SIZE chunk size, equal to the tracking chunk (default 64K)\n"
		"  --deleted-grace DAYS  days prune's deleted points are kept (default 14)\n"
		"  --lock-retention  set the retention lock now (see 'vault retention')\n"
		"Also: cryptsnap vault retention, cryptsnap vault repair.\n");
}

static int vault_init_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, 'k' },
		{ "key-dir", required_argument, NULL, 'd' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "deleted-grace", required_argument, NULL, 'g' },
		{ "lock-retention", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vault_init_opts o = { 0 };
	char kek_path[PATH_MAX];
	struct vault *v = NULL;
	uint64_t cs;
	unsigned int days;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o.kek_file = optarg; break;
		case 'd': o.key_dir = optarg; break;
		case 'c':
			if (cli_size("vault init", "--chunk-size", optarg, VAULT_CHUNK_MIN,
				     VAULT_CHUNK_MAX, &cs))
				return EXIT_USAGE;
			o.chunk_size = (uint32_t)cs;
			break;
		case 'g':
			if (cli_uint("vault init", "--deleted-grace", optarg, 0, 36500, &days))
				return EXIT_USAGE;
			o.grace_set = 1;
			o.deleted_grace = (int64_t)days * 86400;
			break;
		case 'L': o.retention_lock = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = vault_init(argv[optind], &o, kek_path, sizeof(kek_path));
	if (r == -ERANGE)
		return fail_kek("vault init", r, o.kek_file);
	if (r < 0)
		return fail("vault init", r, "cannot create vault %s", argv[optind]);
	/* Its catalogue of points starts empty now, so that no later command
	 * takes it for a vault of an older build that never had one. */
	r = cli_vault("vault init", argv[optind], 1, o.kek_file, &v);
	if (!r)
		r = cli_catalogue_ensure("vault init", v);
	vault_close(v);
	if (r)
		return r;
	printf("vault %s created; KEK: %s (%s)\n", argv[optind], kek_path,
	       o.kek_file ? "customer-managed" : "vault-managed");
	return EXIT_OK;
}

int cmd_vault(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "init"))
		return vault_init_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "retention"))
		return cmd_vault_retention(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "repair"))
		return cmd_vault_repair(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	usage(stderr);
	return EXIT_USAGE;
}
