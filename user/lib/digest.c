// SPDX-License-Identifier: LGPL-2.1-or-later
/* SHA-256 digests through OpenSSL EVP, and digest string validation. */
#include <errno.h>
#include <openssl/evp.h>

#include "internal.h"

struct lfs_sha256 {
	EVP_MD_CTX *ctx;
};

bool lfs_digest_valid(const char *d)
{
	size_t i;

	if (!d || strncmp(d, "sha256:", 7))
		return false;
	for (i = 7; i < LFS_DIGEST_LEN; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return d[LFS_DIGEST_LEN] == '\0';
}

int lfs_digest_check(const char *d, struct lfs_error *err)
{
	const char *colon = d ? strchr(d, ':') : NULL;

	if (lfs_digest_valid(d))
		return 0;
	if (!colon)
		return lfs_error_set(err, LFS_E_INVALID, 0, "digest \"%s\": missing algorithm",
				     d ? d : "");
	if (strncmp(d, "sha256:", 7))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "digest \"%.80s\": unsupported algorithm (only sha256)", d);
	return lfs_error_set(err, LFS_E_INVALID, 0,
			     "digest \"%.80s\": want 64 lowercase hex digits after sha256:", d);
}

struct lfs_sha256 *lfs_sha256_new(void)
{
	struct lfs_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		lfs_sha256_free(h);
		return NULL;
	}
	return h;
}

void lfs_sha256_update(struct lfs_sha256 *h, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->ctx, data, len);
}

static void hex_digest(const unsigned char *md, char out[LFS_DIGEST_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[LFS_DIGEST_LEN] = '\0';
}

void lfs_sha256_final(struct lfs_sha256 *h, char out[LFS_DIGEST_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	hex_digest(md, out);
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void lfs_sha256_free(struct lfs_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void lfs_sha256_buffer(const void *data, size_t len, char out[LFS_DIGEST_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	hex_digest(md, out);
}
