/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * liblayerfs: pull OCI images from registries into the layerfs store.
 *
 * The library does the work and never prints or exits: every function that
 * can fail takes a struct lfs_error and fills it with one line naming the
 * object (reference, URL, layer digest, tar entry) that failed.  Tools print
 * that line once.
 *
 * Every non-static symbol starts with lfs_.
 */
#ifndef LAYERFS_LIB_H
#define LAYERFS_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uapi/linux/layerfs.h>

/* ---- errors ----------------------------------------------------------- */

enum lfs_err_kind {
	LFS_OK = 0,
	LFS_E_INVALID,	/* bad argument or reference */
	LFS_E_NOTFOUND,	/* image, manifest or blob does not exist */
	LFS_E_AUTH,	/* authentication failed or denied */
	LFS_E_VERIFY,	/* digest, size or diff_id mismatch */
	LFS_E_UNSAFE,	/* hostile or over-limit layer content */
	LFS_E_NETWORK,	/* transport failure after retries */
	LFS_E_PROTOCOL,	/* registry answered something we cannot use */
	LFS_E_SYSTEM,	/* local I/O or resource failure */
	LFS_E_BUSY,	/* store locked by another process */
};

#define LFS_ERROR_MAX 1024

struct lfs_error {
	enum lfs_err_kind kind;
	int errnum;			/* errno when the cause was a syscall */
	char msg[LFS_ERROR_MAX];
};

/* Fill @err (if not NULL) and return -1, so callers can "return lfs_error_set(...)". */
int lfs_error_set(struct lfs_error *err, enum lfs_err_kind kind, int errnum,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prepend context ("layer sha256:...: ") to an error already set. */
void lfs_error_prefix(struct lfs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *lfs_error_kind_name(enum lfs_err_kind kind);

/* ---- digests ---------------------------------------------------------- */

#define LFS_DIGEST_LEN 71	/* "sha256:" + 64 hex */
#define LFS_DIGEST_SIZE (LFS_DIGEST_LEN + 1)

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool lfs_digest_valid(const char *digest);
/* Check a digest string and say why it is not usable. */
int lfs_digest_check(const char *digest, struct lfs_error *err);

struct lfs_sha256;
struct lfs_sha256 *lfs_sha256_new(void);
void lfs_sha256_update(struct lfs_sha256 *h, const void *data, size_t len);
/* Writes "sha256:HEX" into out (LFS_DIGEST_SIZE bytes); h can be reused after. */
void lfs_sha256_final(struct lfs_sha256 *h, char out[LFS_DIGEST_SIZE]);
void lfs_sha256_free(struct lfs_sha256 *h);
void lfs_sha256_buffer(const void *data, size_t len, char out[LFS_DIGEST_SIZE]);

/* ---- references --------------------------------------------------------- */

struct lfs_ref {
	char *domain;	/* as written or "docker.io" */
	char *host;	/* API host: "registry-1.docker.io" for docker.io */
	char *path;	/* repository: "library/alpine" */
	char *tag;	/* "latest" when neither tag nor digest was given; may be NULL */
	char *digest;	/* "sha256:..." or NULL */
};

/*
 * Parse and normalise a reference as Docker does: "alpine" is
 * docker.io/library/alpine:latest, "host:5000/a/b:t" keeps its host.
 */
int lfs_ref_parse(const char *s, struct lfs_ref *ref, struct lfs_error *err);
void lfs_ref_free(struct lfs_ref *ref);
/* Canonical name "domain/path[:tag][@digest]"; caller frees. */
char *lfs_ref_string(const struct lfs_ref *ref);

/* ---- platforms ---------------------------------------------------------- */

struct lfs_platform {
	char os[32];
	char arch[32];
	char variant[32];	/* may be empty */
};

/* "os/arch[/variant]", normalised (x86_64 -> amd64, arm64 -> arm64/v8). */
int lfs_platform_parse(const char *s, struct lfs_platform *p, struct lfs_error *err);
void lfs_platform_host(struct lfs_platform *p);
void lfs_platform_normalize(struct lfs_platform *p);
/* Does a manifest's platform satisfy the wanted one? */
bool lfs_platform_match(const struct lfs_platform *want, const struct lfs_platform *have);
void lfs_platform_format(const struct lfs_platform *p, char *buf, size_t len);

/* ---- manifests, indexes, configs ---------------------------------------- */

#define LFS_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LFS_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LFS_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LFS_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
/* The Accept header sent for every manifest request. */
#define LFS_MANIFEST_ACCEPT \
	LFS_MT_OCI_MANIFEST ", " LFS_MT_OCI_INDEX ", " \
	LFS_MT_DOCKER_MANIFEST ", " LFS_MT_DOCKER_LIST

/* Caps on what we are willing to read from a registry into memory. */
#define LFS_MANIFEST_MAX (4u << 20)
#define LFS_CONFIG_MAX (8u << 20)

enum lfs_manifest_kind {
	LFS_MANIFEST_IMAGE,	/* OCI image manifest or Docker schema2 */
	LFS_MANIFEST_INDEX,	/* OCI index or Docker manifest list */
};

enum lfs_compression {
	LFS_COMPRESS_NONE,
	LFS_COMPRESS_GZIP,
	LFS_COMPRESS_ZSTD,
};

struct lfs_descriptor {
	char *media_type;
	char digest[LFS_DIGEST_SIZE];
	int64_t size;
	bool has_platform;
	struct lfs_platform platform;
	bool attestation;	/* buildx attestation manifest: never selected */
	enum lfs_compression compression;	/* layers only */
};

struct lfs_manifest {
	enum lfs_manifest_kind kind;
	char *media_type;
	/* image manifest */
	struct lfs_descriptor config;
	size_t n_layers;
	struct lfs_descriptor *layers;
	/* index */
	size_t n_manifests;
	struct lfs_descriptor *manifests;
};

/*
 * Parse a manifest or index from the exact bytes received.  @content_type is
 * the HTTP Content-Type (parameters ignored) or NULL; when the body has a
 * mediaType it must agree with it.  Schema1 is refused.
 */
int lfs_manifest_parse(const char *content_type, const char *body, size_t len,
		       struct lfs_manifest *m, struct lfs_error *err);
void lfs_manifest_free(struct lfs_manifest *m);
/* Index entry for @want: the first match, skipping attestations; -1 if none. */
int lfs_index_select(const struct lfs_manifest *index, const struct lfs_platform *want,
		     struct lfs_error *err);
/* Compression of a layer media type, or an error for foreign/unknown types. */
int lfs_layer_compression(const char *media_type, enum lfs_compression *c,
			  struct lfs_error *err);

struct lfs_config {
	struct lfs_platform platform;
	char *created;
	size_t n_diff_ids;
	char (*diff_ids)[LFS_DIGEST_SIZE];
};

int lfs_config_parse(const char *body, size_t len, struct lfs_config *c,
		     struct lfs_error *err);
void lfs_config_free(struct lfs_config *c);

/* ---- WWW-Authenticate (RFC 7235) ---------------------------------------- */

struct lfs_auth_param {
	char *name;	/* lowercased */
	char *value;	/* unquoted */
};

struct lfs_challenge {
	char *scheme;	/* lowercased: "bearer", "basic", ... */
	size_t n_params;
	struct lfs_auth_param *params;
};

struct lfs_challenges {
	size_t n;
	struct lfs_challenge *v;
};

int lfs_www_authenticate_parse(const char *header, struct lfs_challenges *out,
			       struct lfs_error *err);
void lfs_challenges_free(struct lfs_challenges *c);
const char *lfs_challenge_param(const struct lfs_challenge *c, const char *name);

/* ---- credentials (auth.json / ~/.docker/config.json, helpers) ----------- */

struct lfs_credentials {
	char *user, *pass;	/* NULL when none */
	char *identity_token;	/* an OAuth2 refresh token: auth.json "identitytoken",
				   or a helper's answer for the Username "<token>" */
};

/* Zeroes the secrets, frees everything, leaves @c empty. */
void lfs_credentials_free(struct lfs_credentials *c);

/*
 * Look up credentials for @host in @path, or when @path is NULL in
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json and
 * ~/.docker/config.json: a "credHelpers" entry for the host, else an
 * "auths" entry, else "credsStore".  Credential helpers get
 * @helper_timeout_ms.  Returns 1 when found, 0 when not, -1 on error.
 */
int lfs_auth_lookup(const char *path, const char *host, unsigned helper_timeout_ms,
		    struct lfs_credentials *c, struct lfs_error *err);

/*
 * Run "docker-credential-NAME get" (found on $PATH, no shell) with @server on
 * its stdin.  Returns 1 with @c filled, 0 when the helper has no credentials
 * for @server, -1 on error (not found, failed, timed out, bad output).
 */
int lfs_cred_helper_get(const char *name, const char *server, unsigned timeout_ms,
			struct lfs_credentials *c, struct lfs_error *err);

/* ---- limits and layer unpacking ----------------------------------------- */

struct lfs_limits {
	uint64_t max_entry_size;	/* one file's size */
	uint64_t max_layer_size;	/* uncompressed bytes of one layer */
	uint64_t max_entries;		/* entries in one layer */
	uint64_t max_ratio;		/* uncompressed/compressed, checked past ratio_floor */
	uint64_t ratio_floor;
	bool allow_devices;		/* character and block devices */
};

void lfs_limits_default(struct lfs_limits *l);

/* ---- the store ------------------------------------------------------------ */

#define LFS_STORE_DEFAULT "/var/lib/layerfs"

struct lfs_store;

/*
 * Open (creating when missing) the store at @root.  Holds a shared lock for
 * the life of the handle; cleans tmp/ when no other process uses the store.
 */
int lfs_store_open(const char *root, struct lfs_store **out, struct lfs_error *err);
void lfs_store_close(struct lfs_store *s);
const char *lfs_store_root(const struct lfs_store *s);

struct lfs_image_layer {
	char digest[LFS_DIGEST_SIZE];
	char diff_id[LFS_DIGEST_SIZE];
	char *media_type;
	int64_t size;		/* compressed, from the manifest */
	char *path;		/* absolute path of layers/sha256/HEX */
};

struct lfs_image {
	char *ref;			/* canonical reference, or NULL when untagged */
	char digest[LFS_DIGEST_SIZE];	/* the platform manifest */
	char index_digest[LFS_DIGEST_SIZE];	/* "" when pulled without an index */
	char config_digest[LFS_DIGEST_SIZE];
	struct lfs_platform platform;
	char *created;
	int64_t compressed_size;	/* sum of layer blob sizes */
	size_t n_layers;
	struct lfs_image_layer *layers;
};

void lfs_image_free(struct lfs_image *img);

struct lfs_image_list {
	size_t n;
	struct lfs_image *v;
};

int lfs_store_images(struct lfs_store *s, struct lfs_image_list *out, struct lfs_error *err);
void lfs_image_list_free(struct lfs_image_list *l);
/* Find an image by reference string, or by (a prefix of) its manifest digest. */
int lfs_store_lookup(struct lfs_store *s, const char *name, struct lfs_image *out,
		     struct lfs_error *err);
/* Remove a reference; the image record goes with its last reference. */
int lfs_store_remove(struct lfs_store *s, const char *name, struct lfs_error *err);

struct lfs_usage {
	uint64_t layers;		/* layer directories */
	uint64_t files;			/* regular files over all layers */
	uint64_t logical_bytes;		/* what one copy per layer would need */
	uint64_t stored_bytes;		/* unique inodes actually stored */
	uint64_t objects;		/* files in objects/ */
	uint64_t blob_bytes;		/* kept compressed blobs */
};

int lfs_store_usage(struct lfs_store *s, struct lfs_usage *u, struct lfs_error *err);
/* Usage restricted to one image's layers (for "images"). */
int lfs_store_image_usage(struct lfs_store *s, const struct lfs_image *img,
			  struct lfs_usage *u, struct lfs_error *err);

struct lfs_gc_result {
	uint64_t images, layers, objects, blobs;	/* removed */
	uint64_t bytes;					/* freed (file sizes) */
};

/* Remove unreferenced images, layers, objects and blobs.  Needs exclusive use.
 * Layer directories named in @in_use (those some layerfs mount stacks, from
 * lfs_genl_mounts) are kept even when no image references them; the
 * comparison is by device and inode, so any path to the directory counts. */
int lfs_store_gc(struct lfs_store *s, const char *const *in_use, size_t n_in_use,
		 struct lfs_gc_result *r, struct lfs_error *err);

/*
 * Unpack one uncompressed-or-compressed layer read from @fd into the empty
 * directory @dirfd, enforcing every safety rule and @limits.  @name names the
 * layer in errors.  Used by the pull and by tests and fuzzers on local files.
 * @diff_id (may be NULL) is checked against the uncompressed bytes.
 */
int lfs_unpack_fd(int dirfd, int fd, enum lfs_compression c, const struct lfs_limits *limits,
		  const char *name, const char *diff_id, struct lfs_error *err);

/* ---- registry mirrors ------------------------------------------------------- */

#define LFS_MIRRORS_MAX 16	/* mirrors of one registry */

/*
 * Mirrors of one registry, as containers-registries.conf(5) [[registry.mirror]]
 * or Docker's registry-mirrors: hosts that serve the same repositories under
 * the same paths.  A pull of a reference on @registry asks each mirror in
 * order, then the registry.  Mirrors are untrusted: every digest is verified
 * as for the registry.
 */
struct lfs_mirror {
	char *registry;		/* a reference's registry: "docker.io", "host:5000" */
	size_t n_hosts;
	char **hosts;		/* HOST[:PORT], in the order they are tried */
};

struct lfs_mirrors {
	size_t n;
	struct lfs_mirror *v;
};

/*
 * Parse "REGISTRY=MIRROR[,MIRROR...]" (blanks around '=' and ',' allowed) and
 * append the mirrors to REGISTRY's list in @m, creating it.  REGISTRY is
 * written as in a reference (index.docker.io and registry-1.docker.io mean
 * docker.io); a MIRROR is HOST[:PORT], without scheme or path.  At most
 * LFS_MIRRORS_MAX per registry, none twice, none the registry itself.
 */
int lfs_mirrors_add(struct lfs_mirrors *m, const char *spec, struct lfs_error *err);
void lfs_mirrors_free(struct lfs_mirrors *m);
/* The mirrors of @registry (a reference's domain), or NULL. */
const struct lfs_mirror *lfs_mirrors_find(const struct lfs_mirrors *m, const char *registry);

/* ---- pulling ---------------------------------------------------------------- */

struct lfs_registry_opts {
	const char *const *insecure;	/* hosts[:port] spoken to in plain HTTP */
	size_t n_insecure;
	const struct lfs_mirrors *mirrors;	/* NULL: none; a mirror is plain HTTP
						   when listed in @insecure */
	const char *ca_file;		/* replaces the system CAs when set */
	const char *auth_file;		/* NULL: the usual auth.json locations */
	unsigned helper_timeout_ms;	/* a credential helper's time limit */
	bool oauth2;			/* OAuth2 POST with a password too, not only
					   with an identity token */
	unsigned retries;		/* per request, after the first try */
	unsigned retry_delay_ms;	/* first backoff; doubles per retry */
	unsigned retry_max_ms;		/* cap for backoff and Retry-After */
	unsigned connect_timeout_s;
	unsigned stall_timeout_s;	/* abort a transfer idle that long */
};

void lfs_registry_opts_default(struct lfs_registry_opts *o);

enum lfs_stage {
	LFS_STAGE_QUEUED,
	LFS_STAGE_EXISTS,	/* already in the store */
	LFS_STAGE_FETCH,	/* download + verify + decompress + unpack */
	LFS_STAGE_RETRY,	/* transfer failed, resuming */
	LFS_STAGE_DEDUP,
	LFS_STAGE_DONE,
	LFS_STAGE_FAILED,
	/* events about the whole pull, not a layer (index and count 0): */
	LFS_STAGE_SOURCE,	/* the manifest came from @source; @message says
				   "mirror of REGISTRY" when it is a mirror */
	LFS_STAGE_FALLBACK,	/* mirror @source failed; @message says why and
				   what is tried next */
};

struct lfs_progress {
	size_t index;		/* layer index in the manifest */
	size_t count;
	const char *digest;
	const char *diff_id;
	enum lfs_stage stage;
	uint64_t done;		/* compressed bytes received */
	uint64_t total;
	const char *message;	/* for RETRY, FAILED, SOURCE, FALLBACK */
	const char *source;	/* host the bytes come from (registry or mirror) */
};

/* Called from worker threads, serialised by the library. */
typedef void (*lfs_progress_fn)(void *ctx, const struct lfs_progress *p);

struct lfs_pull_opts {
	struct lfs_registry_opts registry;
	struct lfs_limits limits;
	struct lfs_platform platform;
	unsigned jobs;			/* parallel layer downloads */
	bool keep_blobs;		/* also store compressed blobs in blobs/ */
	lfs_progress_fn progress;
	void *progress_ctx;
};

void lfs_pull_opts_default(struct lfs_pull_opts *o);

struct lfs_pull_result {
	struct lfs_image image;
	size_t layers_fetched;
	size_t layers_reused;
	uint64_t bytes_fetched;
	char **warnings;	/* registry Warning headers, NULL-terminated or NULL */
	char ratelimit_remaining[64];	/* registry's ratelimit-remaining, "" if none */
	char source[256];	/* host that served the manifest: the registry's or a mirror */
	bool from_mirror;	/* @source is a mirror; image.ref keeps the registry */
};

void lfs_pull_result_free(struct lfs_pull_result *r);

int lfs_pull(struct lfs_store *s, const char *reference, const struct lfs_pull_opts *o,
	     struct lfs_pull_result *r, struct lfs_error *err);

/* ---- the module's generic netlink family (genl.c) ------------------------ */

/*
 * One socket to the "layerfs" family.  Not thread-safe: serialise every
 * call on one handle.  Opening fails with LFS_E_NOTFOUND when the module is
 * not loaded; commands need CAP_NET_ADMIN (LFS_E_AUTH otherwise).
 */
struct lfs_genl;
struct nl_msg;
struct nlmsghdr;

struct lfs_resolve_request {
	uint32_t id;
	char ref[LAYERFS_IMAGE_REF_MAX];
	char platform[LAYERFS_PLATFORM_MAX];	/* "" = the host's */
	int pull;			/* enum layerfs_pull, -1 when not sent */
	uint32_t timeout_ms;		/* the mount's deadline; 0 when not sent */
};

struct lfs_resolve_reply {
	uint32_t id;
	int status;			/* positive errno, 0 = success */
	const char *error_text;		/* on failure; cut to LAYERFS_ERROR_TEXT_MAX */
	const char *digest;		/* on success: the manifest digest */
	const char *const *layers;	/* on success: absolute paths, top layer first */
	size_t n_layers;
};

/* A RESOLVE from the module (validated). */
typedef void (*lfs_resolve_fn)(void *ctx, const struct lfs_resolve_request *req);
/* The module refused a RESOLVE_REPLY (id 0 when it cannot be told), or a
 * RESOLVE could not be parsed (@text says why). */
typedef void (*lfs_reply_error_fn)(void *ctx, uint32_t id, int errnum, const char *text);

int lfs_genl_open(struct lfs_genl **out, struct lfs_error *err);
void lfs_genl_close(struct lfs_genl *g);
void lfs_genl_set_handlers(struct lfs_genl *g, lfs_resolve_fn on_resolve,
			   lfs_reply_error_fn on_reply_error, void *ctx);
int lfs_genl_fd(const struct lfs_genl *g);
/* This socket becomes the daemon (LFS_E_BUSY: another one is registered). */
int lfs_genl_register(struct lfs_genl *g, struct lfs_error *err);
int lfs_genl_unregister(struct lfs_genl *g, struct lfs_error *err);
/* Read one batch of waiting messages and dispatch them to the handlers. */
int lfs_genl_receive(struct lfs_genl *g, struct lfs_error *err);
/* Send a RESOLVE_REPLY (no ACK: a refusal reaches the reply-error handler). */
int lfs_genl_reply(struct lfs_genl *g, const struct lfs_resolve_reply *rep, struct lfs_error *err);

struct lfs_mount {
	uint64_t id;
	uint32_t dev;
	char *image_ref, *image_digest;	/* NULL unless mounted with image= */
	size_t n_layers;
	char **layers;			/* top first, as mounted */
	char *upperdir, *workdir;	/* NULL for a read-only mount */
	uint32_t cow_block;
	uint64_t cow_files, cow_granules, cow_bytes, cow_whole_bytes;
};

struct lfs_mount_list {
	size_t n;
	struct lfs_mount *v;
};

int lfs_genl_mounts(struct lfs_genl *g, struct lfs_mount_list *out, struct lfs_error *err);
void lfs_mount_free(struct lfs_mount *m);
void lfs_mount_list_free(struct lfs_mount_list *l);

struct lfs_genl_status {
	uint32_t daemon_pid;		/* 0: no daemon registered */
	uint32_t pending;
	uint64_t requests, rejected;
};

int lfs_genl_status(struct lfs_genl *g, struct lfs_genl_status *st, struct lfs_error *err);

/* The message codecs, apart from the socket (tests, fuzzers). */
int lfs_genl_parse_resolve(const struct nlmsghdr *nlh, struct lfs_resolve_request *req,
			   struct lfs_error *err);
int lfs_genl_parse_mount(const struct nlmsghdr *nlh, struct lfs_mount *m, struct lfs_error *err);
int lfs_genl_parse_status(const struct nlmsghdr *nlh, struct lfs_genl_status *st,
			  struct lfs_error *err);
int lfs_genl_build_reply(int family, const struct lfs_resolve_reply *rep, struct nl_msg **out,
			 struct lfs_error *err);

/* Call once before threads exist (curl_global_init). */
int lfs_init(struct lfs_error *err);
void lfs_cleanup(void);

#endif /* LAYERFS_LIB_H */
