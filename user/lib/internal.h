/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* liblayerfs private declarations, shared by the library sources only. */
#ifndef LAYERFS_LIB_INTERNAL_H
#define LAYERFS_LIB_INTERNAL_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#include "layerfs.h"

/* ---- ownership helpers: one owner per allocation, freed on scope exit ---- */

static inline void lfs_freep(void *p) { free(*(void **)p); }
static inline void lfs_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(lfs_freep)))
#define _cleanup_close_ __attribute__((cleanup(lfs_closep)))

/* Hand ownership out of a cleanup variable. */
#define LFS_STEAL(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define LFS_STEAL_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#define LFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation failures are reported as errors, never ignored. */
#define lfs_oom(err) lfs_error_set((err), LFS_E_SYSTEM, ENOMEM, "out of memory")

/* ---- growable byte buffer ------------------------------------------------ */

struct lfs_buf {
	char *data;
	size_t len, cap;
};

int lfs_buf_append(struct lfs_buf *b, const void *data, size_t len);
void lfs_buf_free(struct lfs_buf *b);

/* ---- string set / map (open addressing) --------------------------------- */

struct lfs_set_entry {
	char *key;
	unsigned value;
};

struct lfs_set {
	struct lfs_set_entry *v;
	size_t n, cap;
};

/* Returns the entry for key, or NULL; insert creates it (copying key). */
struct lfs_set_entry *lfs_set_find(const struct lfs_set *s, const char *key);
struct lfs_set_entry *lfs_set_insert(struct lfs_set *s, const char *key);
void lfs_set_free(struct lfs_set *s);

/* ---- paths inside a root ----------------------------------------------------- */

/*
 * Normalise a tar entry name: strip "./" and duplicate slashes, refuse
 * absolute paths, "..", components over NAME_MAX and paths over PATH_MAX.
 * "" means the root itself.
 */
int lfs_path_clean(const char *in, char *out, size_t outlen, struct lfs_error *err);

/* openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS. */
int lfs_open_in_root(int rootfd, const char *path, int flags, unsigned mode);

/* The last component of a cleaned path. */
const char *lfs_path_base(const char *path);
/* Open (O_PATH) the directory holding a cleaned path inside the root, as
 * lfs_open_in_root does; *base points at the last component of path. */
int lfs_open_parent_in_root(int rootfd, const char *path, const char **base);

/* fsync a directory (after renames into it). */
int lfs_fsync_dir_at(int dirfd, const char *path);

/* Remove a tree below dirfd/name without following symlinks. */
int lfs_rmtree_at(int dirfd, const char *name);

/* mkdir -p of a store-internal path (trusted names). */
int lfs_mkdirs_at(int dirfd, const char *path, unsigned mode);

/* Write a whole file atomically: tmp + fsync + rename. */
int lfs_write_file_at(int dirfd, const char *path, const void *data, size_t len,
		      struct lfs_error *err);
/* Read a whole (store-internal) file; caps at max bytes. */
int lfs_read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len,
		     struct lfs_error *err);

/* ---- decompression + digest stream ------------------------------------------- */

/* A byte source: returns bytes read, 0 at end, -1 with err set. */
typedef long (*lfs_read_fn)(void *ctx, void *buf, size_t len, struct lfs_error *err);

struct lfs_layer_stream;

/*
 * Wraps a source of compressed layer bytes: hashes and counts them, checks
 * them against @expect_size (-1: unknown), decompresses and hashes the tar
 * stream, enforcing layer size and ratio limits.
 */
struct lfs_layer_stream *lfs_layer_stream_new(lfs_read_fn read, void *ctx,
					      enum lfs_compression c, int64_t expect_size,
					      const struct lfs_limits *limits,
					      struct lfs_error *err);
/* Uncompressed tar bytes; 0 at end of stream. */
long lfs_layer_stream_read(struct lfs_layer_stream *ls, void *buf, size_t len,
			   struct lfs_error *err);
/* Read and hash whatever is left (tar padding), then finish both digests. */
int lfs_layer_stream_finish(struct lfs_layer_stream *ls, char digest[LFS_DIGEST_SIZE],
			    char diff_id[LFS_DIGEST_SIZE], struct lfs_error *err);
/* After a failure: read the rest of the compressed bytes (bounded by the
 * expected size) and return their digest, to tell corruption from bad content. */
int lfs_layer_stream_drain_raw(struct lfs_layer_stream *ls, char digest[LFS_DIGEST_SIZE]);
uint64_t lfs_layer_stream_compressed(const struct lfs_layer_stream *ls);
void lfs_layer_stream_free(struct lfs_layer_stream *ls);

/* ---- unpacking ----------------------------------------------------------------- */

struct lfs_unpack_file {
	char *path;		/* cleaned path inside the layer */
	char key[LFS_DIGEST_SIZE];	/* object key: content + inode metadata */
};

struct lfs_unpack_link {
	char *path;
	char *target;
};

struct lfs_unpack_result {
	size_t n_files, cap_files;
	struct lfs_unpack_file *files;
	size_t n_links, cap_links;
	struct lfs_unpack_link *links;
	uint64_t entries;
	uint64_t bytes;
};

void lfs_unpack_result_free(struct lfs_unpack_result *r);

/* Unpack the tar stream in @ls into @rootfd; errors name @layer and the entry. */
int lfs_unpack_stream(int rootfd, struct lfs_layer_stream *ls, const struct lfs_limits *limits,
		      const char *layer, struct lfs_unpack_result *res, struct lfs_error *err);

/* Replace each unpacked regular file by a hardlink into objects/ (store fd). */
int lfs_dedup_layer(int storefd, int rootfd, const struct lfs_unpack_result *res,
		    const char *layer, struct lfs_error *err);

/* HOST, HOST:PORT or [IPv6][:PORT], as a reference's registry is written. */
bool lfs_domain_valid(const char *d);

/* ---- registry client ---------------------------------------------------------- */

struct lfs_registry;
struct lfs_fetch;

int lfs_registry_new(const struct lfs_ref *ref, const struct lfs_registry_opts *o,
		     struct lfs_registry **out, struct lfs_error *err);
/* A registry client for @repo on @host (a mirror's), in plain HTTP when @plain. */
int lfs_registry_new_host(const char *host, const char *repo, bool plain,
			  const struct lfs_registry_opts *o, struct lfs_registry **out,
			  struct lfs_error *err);
void lfs_registry_free(struct lfs_registry *r);
/* Registry Warning headers seen so far (NULL-terminated copy; caller frees). */
char **lfs_registry_warnings(struct lfs_registry *r);
/* The registry's last "ratelimit-remaining" header ("" if none). */
void lfs_registry_ratelimit(struct lfs_registry *r, char *buf, size_t len);

struct lfs_http_reply {
	long status;
	char content_type[128];
	char docker_digest[LFS_DIGEST_SIZE + 8];
	int64_t content_length;	/* -1 when not given */
};

/* HEAD or GET a manifest by tag or digest (body capped at LFS_MANIFEST_MAX). */
int lfs_registry_head_manifest(struct lfs_registry *r, const char *ref,
			       struct lfs_http_reply *reply, struct lfs_error *err);
int lfs_registry_get_manifest(struct lfs_registry *r, const char *ref, struct lfs_buf *body,
			      struct lfs_http_reply *reply, struct lfs_error *err);
/* GET a whole small blob (config) into memory, capped at @max. */
int lfs_registry_get_blob(struct lfs_registry *r, const char *digest, size_t max,
			  struct lfs_buf *body, struct lfs_error *err);

/*
 * Stream a blob: reads return body bytes in order; transport failures,
 * 5xx and 429 are retried, and a broken transfer resumes with Range.
 * @cancel (may be NULL) aborts reads when it becomes non-zero.
 */
int lfs_fetch_blob(struct lfs_registry *r, const char *digest, const volatile int *cancel,
		   struct lfs_fetch **out, struct lfs_error *err);
long lfs_fetch_read(void *fetch, void *buf, size_t len, struct lfs_error *err);
unsigned lfs_fetch_resumes(const struct lfs_fetch *f);
void lfs_fetch_free(struct lfs_fetch *f);

/* ---- registry internals shared by registry.c and auth.c --------------------- */

#define LFS_TOKEN_SLOTS 8
#define LFS_OAUTH2_CLIENT_ID "layerctl"
#define LFS_WARN_MAX 16

struct lfs_token {
	char *scope;
	char *token;
	time_t expires;
};

enum lfs_auth_mode { LFS_AUTH_NONE, LFS_AUTH_BASIC, LFS_AUTH_BEARER };

/* One per pull.  lock guards auth, realm, service, tokens, warnings, ratelimit. */
struct lfs_registry {
	char *host;
	char *repo;
	char *base;		/* "https://host" */
	bool plain;
	struct lfs_registry_opts o;
	struct lfs_credentials creds;	/* guarded by lock until creds_loaded, then fixed */
	bool creds_loaded;

	pthread_mutex_t lock;
	enum lfs_auth_mode auth;
	char *realm, *service;
	bool oauth2_unsupported;	/* the realm answered 404/405 to a POST */
	struct lfs_token tokens[LFS_TOKEN_SLOTS];
	char *warnings[LFS_WARN_MAX + 1];
	size_t n_warnings;
	char ratelimit[64];	/* last "ratelimit-remaining" seen (Docker Hub) */
};

bool lfs_host_in_list(const char *host, const char *const *list, size_t n);
/* Transfer options common to every request: TLS, protocols, timeouts. */
void lfs_registry_setup_easy(struct lfs_registry *r, void *curl_easy, char *errbuf);
/* The scope every request of this pull needs: "repository:NAME:pull". */
const char *lfs_registry_scope(struct lfs_registry *r, char *buf, size_t len);
/* A 401's WWW-Authenticate: switch to Bearer (fetching a token) or Basic. */
int lfs_auth_challenge(struct lfs_registry *r, const char *hdr, const char *scope,
		       struct lfs_error *err);
/* The cached token for scope, fetched when missing or expired; caller frees. */
char *lfs_auth_token(struct lfs_registry *r, const char *scope, struct lfs_error *err);

/* ---- store internals used by pull ---------------------------------------------- */

int lfs_store_fd(const struct lfs_store *s);
/* "layers/sha256/HEX" exists? */
bool lfs_store_has_layer(struct lfs_store *s, const char *diff_id);
/* Take the per-layer lock (blocks); returns an fd to close to release. */
int lfs_store_lock_layer(struct lfs_store *s, const char *diff_id, struct lfs_error *err);
/* Make a fresh directory under tmp/; returns its name relative to the store. */
int lfs_store_mktemp(struct lfs_store *s, const char *prefix, char *name, size_t len,
		     struct lfs_error *err);
/* Durably move tmp/NAME to layers/sha256/HEX. */
int lfs_store_commit_layer(struct lfs_store *s, const char *tmpname, const char *diff_id,
			   struct lfs_error *err);
int lfs_store_commit_blob(struct lfs_store *s, const char *tmpfile, const char *digest,
			  struct lfs_error *err);
/* Record an image (manifest + config bytes) and point @ref at it. */
int lfs_store_add_image(struct lfs_store *s, const char *ref, const char *index_digest,
			const char *manifest_digest, const char *manifest, size_t manifest_len,
			const char *config, size_t config_len, struct lfs_error *err);
/* Is an image with this manifest (or index + platform) digest recorded? */
bool lfs_store_has_image(struct lfs_store *s, const char *manifest_digest);
int lfs_store_find_by_index(struct lfs_store *s, const char *index_digest,
			    const struct lfs_platform *p, char out[LFS_DIGEST_SIZE]);
int lfs_store_load_image(struct lfs_store *s, const char *manifest_digest,
			 struct lfs_image *img, struct lfs_error *err);
/* Add the hex of every manifest digest a reference points at to @out. */
int lfs_store_ref_digests(struct lfs_store *s, struct lfs_set *out, struct lfs_error *err);
/* Rename a store-relative tree into tmp/, then delete it. */
int lfs_store_remove_tree(struct lfs_store *s, const char *path, struct lfs_error *err);

#endif /* LAYERFS_LIB_INTERNAL_H */
