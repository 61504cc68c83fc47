// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lfs_pull: resolve a reference to one platform's manifest, fetch and verify
 * its config, then fetch every missing layer in parallel (bounded by
 * opts->jobs), each as one stream: download -> sha256 of the blob ->
 * decompress -> sha256 of the tar (diff_id) -> unpack -> dedup -> rename
 * into layers/.  The image is recorded only when every layer is in place.
 *
 * Trust chain: the manifest digest is computed over the exact bytes (and
 * must equal the digest asked for), the config's digest must match the
 * manifest, each blob's digest the manifest and each tar's digest the
 * config's rootfs.diff_ids.  Layers are keyed by their locally verified
 * diff_id, so a layer shared by two images is stored and fetched once.
 *
 * Mirrors: the sources of a pull are the registry's mirrors in order, then
 * the registry (always last).  A tag is resolved at the first source that
 * knows it; a digest reference starts at the first source.  Everything after
 * (child manifests, config, layers) is asked from the source that served the
 * manifest, then from the sources after it.  A request that fails at a
 * mirror (network, 404, 401/403, 5xx after retries, bad data, digest
 * mismatch) goes to the next source; a mirror that failed on the network or
 * with a digest mismatch is skipped for the rest of the pull.  Mirrors are
 * trusted no more than the registry: the checks above are the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "internal.h"

#define INDEX_DEPTH_MAX 4
#define REPORT_STEP (256 * 1024)

struct pull_job {
	size_t index;
	const struct lfs_descriptor *desc;
	const char *diff_id;
	bool duplicate;		/* same diff_id earlier in the manifest */
};

struct source {
	struct lfs_registry *reg;
	bool mirror;
	bool dead;		/* under pull.lock: failed for the rest of the pull */
};

struct pull {
	struct lfs_store *s;
	const struct lfs_pull_opts *o;
	const char *registry;	/* the reference's registry, for messages */
	struct source src[LFS_MIRRORS_MAX + 1];
	size_t n_src;
	size_t start;		/* the source that served the manifest */
	struct pull_job *jobs;
	size_t n_jobs, next;
	pthread_mutex_t lock;	/* next, failure, counters, progress callback */
	volatile int cancel;
	bool failed;
	struct lfs_error first_err;
	size_t fetched, reused;
	uint64_t bytes;
};

void lfs_pull_opts_default(struct lfs_pull_opts *o)
{
	memset(o, 0, sizeof(*o));
	lfs_registry_opts_default(&o->registry);
	lfs_limits_default(&o->limits);
	lfs_platform_host(&o->platform);
	o->jobs = 3;
}

void lfs_pull_result_free(struct lfs_pull_result *r)
{
	size_t i;

	lfs_image_free(&r->image);
	for (i = 0; r->warnings && r->warnings[i]; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}

static void emit(struct pull *p, const struct lfs_progress *ev)
{
	if (!p->o->progress)
		return;
	pthread_mutex_lock(&p->lock);
	p->o->progress(p->o->progress_ctx, ev);
	pthread_mutex_unlock(&p->lock);
}

static void report_src(struct pull *p, const struct pull_job *j, enum lfs_stage stage,
		       uint64_t done, const char *msg, const char *source)
{
	struct lfs_progress ev = {
		.index = j->index, .count = p->n_jobs, .digest = j->desc->digest,
		.diff_id = j->diff_id, .stage = stage, .done = done,
		.total = (uint64_t)j->desc->size, .message = msg, .source = source,
	};

	emit(p, &ev);
}

static void report(struct pull *p, const struct pull_job *j, enum lfs_stage stage, uint64_t done,
		   const char *msg)
{
	report_src(p, j, stage, done, msg, NULL);
}

/* ---- sources: mirrors, then the registry ------------------------------------ */

static int sources_new(struct pull *p, const struct lfs_ref *ref, struct lfs_error *err)
{
	const struct lfs_registry_opts *o = &p->o->registry;
	const struct lfs_mirror *mi = lfs_mirrors_find(o->mirrors, ref->domain);
	size_t i;

	for (i = 0; mi && i < mi->n_hosts && i < LFS_MIRRORS_MAX; i++) {
		bool plain = lfs_host_in_list(mi->hosts[i], o->insecure, o->n_insecure);

		if (lfs_registry_new_host(mi->hosts[i], ref->path, plain, o, &p->src[p->n_src].reg,
					  err) < 0)
			return -1;
		p->src[p->n_src++].mirror = true;
	}
	if (lfs_registry_new(ref, o, &p->src[p->n_src].reg, err) < 0)
		return -1;
	p->n_src++;
	return 0;
}

static const char *src_host(const struct pull *p, size_t i)
{
	return p->src[i].reg->host;
}

static bool src_dead(struct pull *p, size_t i)
{
	bool dead;

	pthread_mutex_lock(&p->lock);
	dead = p->src[i].dead;
	pthread_mutex_unlock(&p->lock);
	return dead;
}

/* The next source after @i worth asking (the registry at the latest). */
static size_t src_next(struct pull *p, size_t i)
{
	for (i++; i + 1 < p->n_src && src_dead(p, i); i++)
		;
	return i;
}

/* May a request that failed with @e at source @i go on to the next source? */
static bool may_fall_back(struct pull *p, size_t i, const struct lfs_error *e)
{
	if (i + 1 >= p->n_src || p->cancel || e->errnum == ECANCELED)
		return false;
	switch (e->kind) {
	case LFS_E_NOTFOUND:
	case LFS_E_AUTH:
	case LFS_E_VERIFY:
	case LFS_E_NETWORK:
	case LFS_E_PROTOCOL:
		return true;
	default:
		return false;	/* local trouble, or layer content the digest vouches for */
	}
}

/*
 * Mirror @i failed with @e: say so and return the source to try next.  A
 * mirror that cannot be reached or sends wrong bytes is not asked again.
 * @j is the layer the request was for, or NULL.
 */
static size_t fall_back(struct pull *p, size_t i, const struct pull_job *j, const struct lfs_error *e)
{
	struct lfs_progress ev = { .stage = LFS_STAGE_FALLBACK, .source = src_host(p, i) };
	char msg[LFS_ERROR_MAX + 512];
	size_t next;

	if (e->kind == LFS_E_NETWORK || e->kind == LFS_E_VERIFY) {
		pthread_mutex_lock(&p->lock);
		p->src[i].dead = true;
		pthread_mutex_unlock(&p->lock);
	}
	next = src_next(p, i);
	snprintf(msg, sizeof(msg), "mirror %s of %s failed (%s); trying %s%s", src_host(p, i),
		 p->registry, e->msg, p->src[next].mirror ? "mirror " : "", src_host(p, next));
	ev.message = msg;
	if (j)
		report_src(p, j, LFS_STAGE_RETRY, 0, msg, src_host(p, next));
	else
		emit(p, &ev);
	return next;
}

static void report_source(struct pull *p, size_t i, const char *digest)
{
	struct lfs_progress ev = { .stage = LFS_STAGE_SOURCE, .source = src_host(p, i),
				   .digest = digest };
	char msg[300];

	if (p->src[i].mirror) {
		snprintf(msg, sizeof(msg), "mirror of %s", p->registry);
		ev.message = msg;
	}
	emit(p, &ev);
}

struct layer_src {
	struct pull *p;
	const struct pull_job *j;
	struct lfs_fetch *f;
	uint64_t done, reported;
	unsigned resumes;
	int blobfd;
};

static long src_read(void *ctx, void *buf, size_t len, struct lfs_error *err)
{
	struct layer_src *src = ctx;
	long n = lfs_fetch_read(src->f, buf, len, err);

	if (lfs_fetch_resumes(src->f) != src->resumes) {
		src->resumes = lfs_fetch_resumes(src->f);
		report(src->p, src->j, LFS_STAGE_RETRY, src->done, "transfer broken, resuming");
	}
	if (n <= 0)
		return n;
	if (src->blobfd >= 0) {
		const char *b = buf;
		size_t left = (size_t)n;

		while (left) {
			ssize_t w = write(src->blobfd, b, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return lfs_error_set(err, LFS_E_SYSTEM, errno, "write blob copy");
			b += w;
			left -= (size_t)w;
		}
	}
	src->done += (uint64_t)n;
	if (src->done - src->reported >= REPORT_STEP) {
		src->reported = src->done;
		report(src->p, src->j, LFS_STAGE_FETCH, src->done, NULL);
	}
	return n;
}

/* One try at layer @j from source @reg, into a fresh directory under tmp/. */
static int layer_attempt(struct pull *p, const struct pull_job *j, struct lfs_registry *reg,
			 uint64_t *fetched, struct lfs_error *err)
{
	const struct lfs_descriptor *d = j->desc;
	struct layer_src src = { .p = p, .j = j, .blobfd = -1 };
	struct lfs_unpack_result res = { 0 };
	struct lfs_layer_stream *ls = NULL;
	char tmpname[128], blobtmp[160] = "", digest[LFS_DIGEST_SIZE], diff[LFS_DIGEST_SIZE];
	_cleanup_close_ int rootfd = -1;
	int storefd = lfs_store_fd(p->s), ret = -1;
	bool have_tmp = false;

	if (lfs_store_mktemp(p->s, "layer", tmpname, sizeof(tmpname), err) < 0)
		return -1;
	have_tmp = true;
	rootfd = openat(storefd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || fchmod(rootfd, 0755) < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", lfs_store_root(p->s), tmpname);
		goto out;
	}
	if (p->o->keep_blobs) {
		snprintf(blobtmp, sizeof(blobtmp), "%s.blob", tmpname);
		src.blobfd = openat(storefd, blobtmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (src.blobfd < 0) {
			lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", lfs_store_root(p->s), blobtmp);
			goto out;
		}
	}
	if (lfs_fetch_blob(reg, d->digest, &p->cancel, &src.f, err) < 0)
		goto out;
	ls = lfs_layer_stream_new(src_read, &src, d->compression, d->size, &p->o->limits, err);
	if (!ls)
		goto out;
	report_src(p, j, LFS_STAGE_FETCH, 0, NULL, reg->host);
	if (lfs_unpack_stream(rootfd, ls, &p->o->limits, d->digest, &res, err) < 0) {
		/*
		 * Corrupted bytes usually show up as bad gzip or tar data first;
		 * finish hashing the blob (bounded by its size) to say which it was.
		 */
		if (!p->cancel && err->kind != LFS_E_NETWORK && err->kind != LFS_E_SYSTEM &&
		    lfs_layer_stream_drain_raw(ls, digest) == 0 && strcmp(digest, d->digest)) {
			char cause[LFS_ERROR_MAX];

			snprintf(cause, sizeof(cause), "%s", err->msg);
			lfs_error_set(err, LFS_E_VERIFY, 0,
				      "layer %s: digest mismatch: received %s (%.400s)", d->digest, digest, cause);
		}
		goto out;
	}
	if (lfs_layer_stream_finish(ls, digest, diff, err) < 0) {
		lfs_error_prefix(err, "layer %s", d->digest);
		goto out;
	}
	if (strcmp(digest, d->digest)) {
		lfs_error_set(err, LFS_E_VERIFY, 0, "layer %s: digest mismatch: received %s", d->digest,
			      digest);
		goto out;
	}
	if (strcmp(diff, j->diff_id)) {
		lfs_error_set(err, LFS_E_VERIFY, 0,
			      "layer %s: diff_id mismatch: uncompressed %s, config says %s", d->digest,
			      diff, j->diff_id);
		goto out;
	}
	report_src(p, j, LFS_STAGE_DEDUP, src.done, NULL, reg->host);
	if (lfs_dedup_layer(storefd, rootfd, &res, d->digest, err) < 0)
		goto out;
	if (src.blobfd >= 0) {
		if (fsync(src.blobfd) < 0) {
			lfs_error_set(err, LFS_E_SYSTEM, errno, "fsync blob %s", d->digest);
			goto out;
		}
		if (lfs_store_commit_blob(p->s, blobtmp, d->digest, err) < 0)
			goto out;
		blobtmp[0] = '\0';
	}
	if (lfs_store_commit_layer(p->s, tmpname, j->diff_id, err) < 0)
		goto out;
	have_tmp = false;
	ret = 0;
out:
	*fetched = src.done;
	lfs_layer_stream_free(ls);
	lfs_fetch_free(src.f);
	lfs_unpack_result_free(&res);
	if (src.blobfd >= 0)
		close(src.blobfd);
	if (blobtmp[0])
		unlinkat(storefd, blobtmp, 0);
	if (have_tmp) {
		if (rootfd >= 0) {
			close(rootfd);
			rootfd = -1;
		}
		lfs_rmtree_at(storefd, tmpname);
	}
	return ret;
}

static int pull_layer(struct pull *p, const struct pull_job *j, struct lfs_error *err)
{
	_cleanup_close_ int lockfd = -1;
	uint64_t done = 0, wasted = 0;
	size_t i;
	int ret;

	if (lfs_store_has_layer(p->s, j->diff_id))
		goto exists;
	lockfd = lfs_store_lock_layer(p->s, j->diff_id, err);
	if (lockfd < 0)
		return -1;
	/* another pull may have finished it while we waited for the lock */
	if (lfs_store_has_layer(p->s, j->diff_id))
		goto exists;

	for (i = p->start; i + 1 < p->n_src && src_dead(p, i); i++)
		;
	for (;;) {
		ret = layer_attempt(p, j, p->src[i].reg, &done, err);
		if (ret == 0 || !may_fall_back(p, i, err))
			break;
		wasted += done;
		i = fall_back(p, i, j, err);
	}
	if (ret < 0) {
		report(p, j, LFS_STAGE_FAILED, done, err->msg);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->fetched++;
	p->bytes += done + wasted;
	pthread_mutex_unlock(&p->lock);
	report_src(p, j, LFS_STAGE_DONE, done, NULL, src_host(p, i));
	return 0;
exists:
	pthread_mutex_lock(&p->lock);
	p->reused++;
	pthread_mutex_unlock(&p->lock);
	report(p, j, LFS_STAGE_EXISTS, 0, NULL);
	return 0;
}

static void *worker(void *arg)
{
	struct pull *p = arg;

	for (;;) {
		struct lfs_error err = { 0 };
		struct pull_job *j;

		pthread_mutex_lock(&p->lock);
		if (p->failed || p->next >= p->n_jobs) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (j->duplicate)
			continue;
		if (pull_layer(p, j, &err) < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->failed = true;
				p->first_err = err;
			}
			p->cancel = 1;
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

static int run_jobs(struct pull *p, struct lfs_error *err)
{
	pthread_t tids[64];
	size_t n = p->o->jobs ? p->o->jobs : 1, started = 0, i;

	if (n > LFS_ARRAY_SIZE(tids))
		n = LFS_ARRAY_SIZE(tids);
	if (n > p->n_jobs)
		n = p->n_jobs;
	for (i = 0; i < p->n_jobs; i++)
		if (!p->jobs[i].duplicate)
			report(p, &p->jobs[i], LFS_STAGE_QUEUED, 0, NULL);
	for (i = 0; i < n; i++) {
		if (pthread_create(&tids[i], NULL, worker, p) != 0)
			break;
		started++;
	}
	if (!started && p->n_jobs)
		worker(p);	/* no threads to be had: do the work here */
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (p->failed) {
		*err = p->first_err;
		return -1;
	}
	return 0;
}

/* GET a manifest and check it against the digest it was asked by (if any). */
static int get_manifest(struct lfs_registry *reg, const char *by, const char *want_digest,
			int64_t want_size, struct lfs_buf *body, struct lfs_manifest *m,
			char digest[LFS_DIGEST_SIZE], struct lfs_error *err)
{
	struct lfs_http_reply reply;

	if (lfs_registry_get_manifest(reg, by, body, &reply, err) < 0)
		return -1;
	lfs_sha256_buffer(body->data, body->len, digest);
	if (want_digest && strcmp(digest, want_digest))
		return lfs_error_set(err, LFS_E_VERIFY, 0, "manifest %s: digest mismatch: received %s",
				     want_digest, digest);
	if (want_size >= 0 && (int64_t)body->len != want_size)
		return lfs_error_set(err, LFS_E_VERIFY, 0, "manifest %s: %zu bytes, index says %lld",
				     digest, body->len, (long long)want_size);
	if (lfs_manifest_parse(reply.content_type, body->data, body->len, m, err) < 0) {
		lfs_error_prefix(err, "manifest %s", digest);
		return -1;
	}
	return 0;
}

/* get_manifest at source @i, then at the sources after it; *used says which served. */
static int get_manifest_any(struct pull *p, size_t i, const char *by, const char *want_digest,
			    int64_t want_size, struct lfs_buf *body, struct lfs_manifest *m,
			    char digest[LFS_DIGEST_SIZE], size_t *used, struct lfs_error *err)
{
	for (;;) {
		lfs_buf_free(body);
		lfs_manifest_free(m);
		if (get_manifest(p->src[i].reg, by, want_digest, want_size, body, m, digest, err) == 0) {
			*used = i;
			return 0;
		}
		if (!may_fall_back(p, i, err))
			return -1;
		i = fall_back(p, i, NULL, err);
	}
}

/* The config blob, checked against its descriptor, from p->start on. */
static int get_config(struct pull *p, const struct lfs_descriptor *d, struct lfs_buf *body,
		      struct lfs_error *err)
{
	char digest[LFS_DIGEST_SIZE];
	size_t i;

	for (i = p->start;; i = fall_back(p, i, NULL, err)) {
		lfs_buf_free(body);
		/* the descriptor's size bounds the download (checked <= LFS_CONFIG_MAX when parsed) */
		if (lfs_registry_get_blob(p->src[i].reg, d->digest, (size_t)d->size, body, err) == 0) {
			lfs_sha256_buffer(body->data, body->len, digest);
			if (!strcmp(digest, d->digest) && (int64_t)body->len == d->size)
				return 0;
			lfs_error_set(err, LFS_E_VERIFY, 0,
				      "config %s: digest or size mismatch: received %s, %zu bytes",
				      d->digest, digest, body->len);
		}
		if (!may_fall_back(p, i, err))
			return -1;
	}
}

static bool image_complete(struct lfs_store *s, const char *digest)
{
	struct lfs_error e;
	struct lfs_image img;
	size_t i;
	bool ok;

	if (!lfs_store_has_image(s, digest) || lfs_store_load_image(s, digest, &img, &e) < 0)
		return false;
	for (i = 0, ok = true; i < img.n_layers && ok; i++)
		ok = lfs_store_has_layer(s, img.layers[i].diff_id);
	lfs_image_free(&img);
	return ok;
}

/* The image is already complete in the store: record the reference only. */
static int reuse_image(struct lfs_store *s, const char *name, const char *index_digest,
		       const char *digest, struct lfs_error *err)
{
	_cleanup_free_ char *m = NULL, *c = NULL;
	char p[160];
	size_t ml, cl;

	snprintf(p, sizeof(p), "images/sha256/%s/manifest.json", digest + 7);
	if (lfs_read_file_at(lfs_store_fd(s), p, LFS_MANIFEST_MAX, &m, &ml, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "images/sha256/%s/config.json", digest + 7);
	if (lfs_read_file_at(lfs_store_fd(s), p, LFS_CONFIG_MAX, &c, &cl, err) < 0)
		return -1;
	return lfs_store_add_image(s, name, index_digest, digest, m, ml, c, cl, err);
}

/* Warning headers of every source asked, in source order. */
static char **all_warnings(struct pull *p)
{
	char **all = NULL;
	size_t i, k, n = 0;

	for (i = 0; i < p->n_src; i++) {
		char **w = lfs_registry_warnings(p->src[i].reg), **v;

		for (k = 0; w && w[k]; k++)
			;
		v = k ? realloc(all, (n + k + 1) * sizeof(*v)) : all;
		if (v) {
			all = v;
			memcpy(all + n, w, k * sizeof(*w));
			n += k;
			all[n] = NULL;
		} else {
			while (k)
				free(w[--k]);
		}
		free(w);
	}
	return all;
}

static int finish_result(struct pull *p, const char *name, const char *index_digest,
			 const char *digest, struct lfs_pull_result *r, struct lfs_error *err)
{
	struct lfs_registry *reg = p->src[p->start].reg;

	if (lfs_store_load_image(p->s, digest, &r->image, err) < 0)
		return -1;
	r->image.ref = strdup(name);
	if (!r->image.ref)
		return lfs_oom(err);
	if (index_digest)
		snprintf(r->image.index_digest, sizeof(r->image.index_digest), "%s", index_digest);
	r->warnings = all_warnings(p);
	lfs_registry_ratelimit(reg, r->ratelimit_remaining, sizeof(r->ratelimit_remaining));
	snprintf(r->source, sizeof(r->source), "%s", reg->host);
	r->from_mirror = p->src[p->start].mirror;
	return 0;
}

int lfs_pull(struct lfs_store *s, const char *reference, const struct lfs_pull_opts *o,
	     struct lfs_pull_result *r, struct lfs_error *err)
{
	struct pull p = { .s = s, .o = o };
	struct lfs_ref ref;
	struct lfs_buf mbody = { 0 }, cbody = { 0 };
	struct lfs_manifest m = { 0 };
	struct lfs_config cfg = { 0 };
	struct lfs_http_reply reply;
	char hint[LFS_DIGEST_SIZE] = "", digest[LFS_DIGEST_SIZE], index_digest[LFS_DIGEST_SIZE] = "";
	_cleanup_free_ char *name = NULL;
	const char *by, *want = NULL;
	size_t i, k, used;
	int depth, ret = -1;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&p.lock, NULL);
	if (lfs_ref_parse(reference, &ref, err) < 0)
		return -1;
	name = lfs_ref_string(&ref);
	if (!name) {
		lfs_oom(err);
		goto out;
	}
	p.registry = ref.domain;
	if (sources_new(&p, &ref, err) < 0)
		goto out;

	if (ref.digest) {
		want = ref.digest;
	} else {
		/* HEAD resolves the tag without a (rate-counted) GET, at the first
		   source that knows it */
		for (i = 0;; i = fall_back(&p, i, NULL, err)) {
			if (lfs_registry_head_manifest(p.src[i].reg, ref.tag, &reply, err) == 0) {
				if (lfs_digest_valid(reply.docker_digest)) {
					memcpy(hint, reply.docker_digest, LFS_DIGEST_SIZE);
					want = hint;
				}
				break;
			}
			if (err->kind != LFS_E_NOTFOUND && err->kind != LFS_E_AUTH &&
			    err->kind != LFS_E_NETWORK)
				break;	/* no HEAD there: GET the tag from the same source */
			if (!may_fall_back(&p, i, err))
				goto out;
		}
		p.start = i;
	}
	if (want) {
		char found[LFS_DIGEST_SIZE];

		if (image_complete(s, want)) {
			report_source(&p, p.start, want);
			ret = reuse_image(s, name, NULL, want, err) < 0 ? -1 :
			      finish_result(&p, name, NULL, want, r, err);
			goto out;
		}
		if (lfs_store_find_by_index(s, want, &o->platform, found) && image_complete(s, found)) {
			report_source(&p, p.start, want);
			ret = reuse_image(s, name, want, found, err) < 0 ? -1 :
			      finish_result(&p, name, want, found, r, err);
			goto out;
		}
	}
	by = want ? want : ref.tag;
	if (get_manifest_any(&p, p.start, by, want, -1, &mbody, &m, digest, &used, err) < 0)
		goto out;
	p.start = used;
	report_source(&p, p.start, digest);
	for (depth = 0; m.kind == LFS_MANIFEST_INDEX; depth++) {
		char sel_digest[LFS_DIGEST_SIZE];
		int64_t sel_size;
		int idx;

		if (depth >= INDEX_DEPTH_MAX) {
			lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s: indexes nested deeper than %d", name,
				      INDEX_DEPTH_MAX);
			goto out;
		}
		if (depth == 0)
			memcpy(index_digest, digest, LFS_DIGEST_SIZE);
		idx = lfs_index_select(&m, &o->platform, err);
		if (idx < 0) {
			lfs_error_prefix(err, "%s", name);
			goto out;
		}
		memcpy(sel_digest, m.manifests[idx].digest, LFS_DIGEST_SIZE);
		sel_size = m.manifests[idx].size;
		lfs_buf_free(&mbody);
		lfs_manifest_free(&m);
		if (get_manifest_any(&p, p.start, sel_digest, sel_digest, sel_size, &mbody, &m, digest,
				     &used, err) < 0)
			goto out;
		p.start = used;
	}
	if (image_complete(s, digest)) {
		ret = reuse_image(s, name, index_digest[0] ? index_digest : NULL, digest, err) < 0 ? -1 :
		      finish_result(&p, name, index_digest[0] ? index_digest : NULL, digest, r, err);
		goto out;
	}

	if (get_config(&p, &m.config, &cbody, err) < 0)
		goto out;
	if (lfs_config_parse(cbody.data, cbody.len, &cfg, err) < 0) {
		lfs_error_prefix(err, "config %s", m.config.digest);
		goto out;
	}
	if (cfg.n_diff_ids != m.n_layers) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s: manifest has %zu layers, config lists %zu diff_ids",
			      name, m.n_layers, cfg.n_diff_ids);
		goto out;
	}

	p.jobs = calloc(m.n_layers + 1, sizeof(*p.jobs));
	if (!p.jobs) {
		lfs_oom(err);
		goto out;
	}
	p.n_jobs = m.n_layers;
	for (i = 0; i < m.n_layers; i++) {
		p.jobs[i].index = i;
		p.jobs[i].desc = &m.layers[i];
		p.jobs[i].diff_id = cfg.diff_ids[i];
		for (k = 0; k < i; k++)
			if (!strcmp(cfg.diff_ids[k], cfg.diff_ids[i]))
				p.jobs[i].duplicate = true;
	}
	if (run_jobs(&p, err) < 0) {
		lfs_error_prefix(err, "%s", name);
		goto out;
	}
	if (lfs_store_add_image(s, name, index_digest[0] ? index_digest : NULL, digest, mbody.data,
				mbody.len, cbody.data, cbody.len, err) < 0)
		goto out;
	ret = finish_result(&p, name, index_digest[0] ? index_digest : NULL, digest, r, err);
	r->layers_fetched = p.fetched;
	r->layers_reused = p.reused;
	r->bytes_fetched = p.bytes;
out:
	if (ret < 0)
		lfs_pull_result_free(r);
	free(p.jobs);
	lfs_config_free(&cfg);
	lfs_manifest_free(&m);
	lfs_buf_free(&mbody);
	lfs_buf_free(&cbody);
	for (i = 0; i < p.n_src; i++)
		lfs_registry_free(p.src[i].reg);
	lfs_ref_free(&ref);
	pthread_mutex_destroy(&p.lock);
	return ret;
}
