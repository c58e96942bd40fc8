// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault_kek.h"

static const char fp_label[] = "cryptsnap-kek-fingerprint-v1";

const char *kek_mode_name(enum kek_mode m)
{
	return m == KEK_MODE_CUSTOMER ? "customer-managed" : "vault-managed";
}

const char *kek_type_name(enum kek_type t)
{
	return t == KEK_TYPE_RSA ? "RSA" : "AES-256";
}

static int aes_fingerprint(struct vault_kek *k)
{
	struct crypto_hmac *h;
	int r;

	r = crypto_hmac_new(k->aes, &h);
	if (r < 0)
		return r;
	r = crypto_hmac(h, NULL, 0, fp_label, sizeof(fp_label) - 1, k->fp);
	crypto_hmac_free(h);
	return r;
}

static int kek_from_aes(const uint8_t *key, struct vault_kek **out)
{
	struct vault_kek *k = calloc(1, sizeof(*k));
	int r;

	if (!k || !(k->aes = secmem_alloc(CRYPTO_KEY_LEN))) {
		free(k);
		return -ENOMEM;
	}
	k->type = KEK_TYPE_AES;
	memcpy(k->aes, key, CRYPTO_KEY_LEN);
	r = aes_fingerprint(k);
	if (r < 0) {
		kek_free(k);
		return r;
	}
	*out = k;
	return 0;
}

static int kek_from_rsa(const char *path, struct vault_kek **out)
{
	struct vault_kek *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->type = KEK_TYPE_RSA;
	r = crypto_rsa_load(path, &k->rsa);
	/* Every buffer for a wrapped key is KEK_WRAP_MAX bytes. */
	if (!r && (crypto_rsa_bits(k->rsa) < KEK_RSA_MIN_BITS ||
		   crypto_rsa_bits(k->rsa) > KEK_RSA_MAX_BITS ||
		   crypto_rsa_size(k->rsa) > KEK_WRAP_MAX))
		r = -ERANGE;
	if (!r)
		r = crypto_rsa_fingerprint(k->rsa, k->fp);
	if (r < 0) {
		kek_free(k);
		return r;
	}
	*out = k;
	return 0;
}

int kek_load(const char *path, struct vault_kek **out)
{
	uint8_t *key, extra;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (st.st_size != CRYPTO_KEY_LEN) {
		close(fd);
		return kek_from_rsa(path, out);
	}
	if (st.st_mode & 077) {
		close(fd);
		return -EPERM;
	}
	key = secmem_alloc(CRYPTO_KEY_LEN);
	if (!key) {
		close(fd);
		return -ENOMEM;
	}
	r = pread_full(fd, key, CRYPTO_KEY_LEN, 0);
	if (!r && pread(fd, &extra, 1, CRYPTO_KEY_LEN) != 0)
		r = -EINVAL;
	close(fd);
	if (!r)
		r = kek_from_aes(key, out);
	secmem_free(key);
	return r;
}

int kek_path(const char *dir, const char *vault_hex, uint32_t gen,
	     char *path, size_t pathlen)
{
	int n = snprintf(path, pathlen, "%s/%s-%u.kek", dir, vault_hex, gen);

	return n < 0 || (size_t)n >= pathlen ? -ENAMETOOLONG : 0;
}

int kek_generate(const char *dir, const char *vault_hex, uint32_t gen,
		 char *path, size_t pathlen, struct vault_kek **out)
{
	uint8_t *key;
	int fd, r;

	if (mkdir(dir, 0700) < 0) {
		if (errno != EEXIST)
			return -errno;
	} else {
		/* A new key directory must outlive a crash as well. */
		r = fsync_parent_at(AT_FDCWD, dir);
		if (r < 0)
			return r;
	}
	r = kek_path(dir, vault_hex, gen, path, pathlen);
	if (r < 0)
		return r;
	key = secmem_alloc(CRYPTO_KEY_LEN);
	if (!key)
		return -ENOMEM;
	r = crypto_random(key, CRYPTO_KEY_LEN);
	if (r < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_full(fd, key, CRYPTO_KEY_LEN);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	/* The keyring wrapped by this key is committed after we return: the
	 * key's directory entry must be durable first. */
	if (!r)
		r = fsync_parent_at(AT_FDCWD, path);
	if (!r)
		crashpoint("kek.file-written");
	if (!r)
		r = kek_from_aes(key, out);
	if (r)
		unlink(path);
out:
	secmem_free(key);
	return r;
}

int kek_wrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	     uint8_t *out, size_t outmax, size_t *outlen)
{
	if (k->type == KEK_TYPE_AES) {
		if (CRYPTO_KWP_MAX_OUT(len) > outmax)
			return -EMSGSIZE;
		return crypto_kwp_wrap(k->aes, in, len, out, outlen);
	}
	return crypto_rsa_wrap(k->rsa, in, len, out, outmax, outlen);
}

int kek_unwrap(const struct vault_kek *k, const uint8_t *in, size_t len,
	       uint8_t *out, size_t *outlen, size_t outmax)
{
	uint8_t tmp[KEK_WRAP_MAX];
	size_t n = 0;
	int r;

	if (len > KEK_WRAP_MAX)
		return -EBADMSG;
	if (k->type == KEK_TYPE_RSA)
		return crypto_rsa_unwrap(k->rsa, in, len, out, outlen, outmax);
	r = crypto_kwp_unwrap(k->aes, in, len, tmp, &n);
	if (!r && n > outmax)
		r = -EBADMSG;
	if (!r) {
		memcpy(out, tmp, n);
		*outlen = n;
	}
	secmem_wipe(tmp, sizeof(tmp));
	return r;
}

void kek_free(struct vault_kek *k)
{
	if (!k)
		return;
	secmem_free(k->aes);
	crypto_rsa_free(k->rsa);
	free(k);
}
