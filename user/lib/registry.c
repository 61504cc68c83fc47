// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Registry client over libcurl (OpenSSL): the auth challenge loop, bounded
 * retries, and blob streaming with resume.
 *
 * (Authentication lives in auth.c.)
 *
 * Every request goes through one engine (struct lfs_fetch) driven by a curl
 * multi handle, so that a blob can be read as a stream: a read pumps curl
 * until body bytes are available.  Around each attempt:
 *   - 401: parse WWW-Authenticate, get a Bearer token (cached per scope) or
 *     switch to Basic, and retry once; a cached token that stops working
 *     mid-pull is dropped and fetched again once.
 *   - 429 and 5xx, transport errors: retried with exponential backoff
 *     (Retry-After honoured, capped), a bounded number of times.
 *   - a body broken mid-way resumes with "Range: bytes=N-"; only a 206 whose
 *     Content-Range starts at N is appended; a 200 is read from the start and
 *     its first N bytes discarded, never appended.
 * HTTP/2 is negotiated over TLS (ALPN) when the registry offers it; header
 * names are matched case-insensitively (HTTP/2 sends them lower-case) and
 * only the status code of a status line is used (HTTP/2 has no reason phrase).
 * Credentials go through CURLOPT_USERNAME/XOAUTH2_BEARER, never a custom
 * header, and CURLOPT_UNRESTRICTED_AUTH stays 0: libcurl then drops them when
 * a redirect changes host, port or scheme.
 *
 * Locking: r->lock protects the token cache and the warning list; a fetch
 * belongs to one thread.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <curl/curl.h>

#include "internal.h"

#define ERRBODY_MAX 4096

struct lfs_fetch {
	struct lfs_registry *r;
	char *url;
	const char *accept;
	bool head;
	const volatile int *cancel;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	bool running, done_ok;

	/* current attempt */
	long status;
	bool status_checked, deliver, bad_range;
	uint64_t skip;
	struct lfs_buf errbody;
	struct lfs_buf pending;
	size_t pending_pos;
	struct lfs_http_reply reply;
	char content_range[96];
	char retry_after[64];
	char www_auth[4096];

	uint64_t received;	/* body bytes accepted so far: the resume offset */
	uint64_t received_at_failure;
	unsigned attempts, resumes;
	bool reauthed;
};

bool lfs_host_in_list(const char *host, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] && !strcmp(list[i], host))
			return true;
	return false;
}

void lfs_registry_opts_default(struct lfs_registry_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = 4;
	o->retry_delay_ms = 500;
	o->retry_max_ms = 30000;
	o->connect_timeout_s = 30;
	o->stall_timeout_s = 60;
	o->helper_timeout_ms = 30000;
}

int lfs_registry_new_host(const char *host, const char *repo, bool plain,
			  const struct lfs_registry_opts *o, struct lfs_registry **out,
			  struct lfs_error *err)
{
	struct lfs_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return lfs_oom(err);
	pthread_mutex_init(&r->lock, NULL);
	r->o = *o;
	r->host = strdup(host);
	r->repo = strdup(repo);
	r->plain = plain;
	if (!r->host || !r->repo ||
	    asprintf(&r->base, "%s://%s", r->plain ? "http" : "https", host) < 0) {
		r->base = NULL;
		lfs_registry_free(r);
		return lfs_oom(err);
	}
	*out = r;
	return 0;
}

int lfs_registry_new(const struct lfs_ref *ref, const struct lfs_registry_opts *o,
		     struct lfs_registry **out, struct lfs_error *err)
{
	bool plain = lfs_host_in_list(ref->host, o->insecure, o->n_insecure) ||
		     lfs_host_in_list(ref->domain, o->insecure, o->n_insecure);

	return lfs_registry_new_host(ref->host, ref->path, plain, o, out, err);
}

void lfs_registry_free(struct lfs_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < LFS_TOKEN_SLOTS; i++) {
		free(r->tokens[i].scope);
		free(r->tokens[i].token);
	}
	for (i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->host);
	free(r->repo);
	free(r->base);
	lfs_credentials_free(&r->creds);
	free(r->realm);
	free(r->service);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

char **lfs_registry_warnings(struct lfs_registry *r)
{
	char **v;
	size_t i;

	pthread_mutex_lock(&r->lock);
	v = calloc(r->n_warnings + 1, sizeof(*v));
	for (i = 0; v && i < r->n_warnings; i++)
		v[i] = strdup(r->warnings[i]);
	pthread_mutex_unlock(&r->lock);
	return v;
}

void lfs_registry_ratelimit(struct lfs_registry *r, char *buf, size_t len)
{
	pthread_mutex_lock(&r->lock);
	snprintf(buf, len, "%s", r->ratelimit);
	pthread_mutex_unlock(&r->lock);
}

static void add_warning(struct lfs_registry *r, const char *w)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n_warnings; i++)
		if (!strcmp(r->warnings[i], w))
			break;
	if (i == r->n_warnings && r->n_warnings < LFS_WARN_MAX) {
		r->warnings[r->n_warnings] = strdup(w);
		if (r->warnings[r->n_warnings])
			r->n_warnings++;
	}
	pthread_mutex_unlock(&r->lock);
}

const char *lfs_registry_scope(struct lfs_registry *r, char *buf, size_t len)
{
	snprintf(buf, len, "repository:%s:pull", r->repo);
	return buf;
}

/* Common transfer options: TLS, protocols, timeouts. */

void lfs_registry_setup_easy(struct lfs_registry *r, void *curl_easy, char *errbuf)
{
	const char *protos = r->plain ? "http,https" : "https";
	CURL *e = curl_easy;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)r->o.connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)r->o.stall_timeout_s);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "layerctl/0.1");
	/* HTTP/2 when TLS negotiates it (ALPN), HTTP/1.1 otherwise and for plain http */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->o.ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, r->o.ca_file);
	/* the registry's own Content-Encoding is not ours to undo: digests cover raw bytes */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
}

/* ---- the fetch engine ------------------------------------------------------ */

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct lfs_fetch *f = ud;
	size_t n = size * nmemb, nl, vl;
	char line[4096], *colon, *v;

	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		/*
		 * A new status line ("HTTP/1.1 200 OK", "HTTP/2 200"; first response,
		 * or after a redirect): forget the old headers.  The code itself is
		 * read with CURLINFO_RESPONSE_CODE.
		 */
		memset(&f->reply, 0, sizeof(f->reply));
		f->reply.content_length = -1;
		f->content_range[0] = f->retry_after[0] = f->www_auth[0] = '\0';
		return n;
	}
	nl = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
	memcpy(line, data, nl);
	line[nl] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	colon = strchr(line, ':');
	if (!colon)
		return n;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	vl = strlen(v);
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		v[--vl] = '\0';
	if (!strcasecmp(line, "content-type"))
		snprintf(f->reply.content_type, sizeof(f->reply.content_type), "%s", v);
	else if (!strcasecmp(line, "docker-content-digest"))
		snprintf(f->reply.docker_digest, sizeof(f->reply.docker_digest), "%s", v);
	else if (!strcasecmp(line, "content-length"))
		f->reply.content_length = strtoll(v, NULL, 10);
	else if (!strcasecmp(line, "content-range"))
		snprintf(f->content_range, sizeof(f->content_range), "%s", v);
	else if (!strcasecmp(line, "retry-after"))
		snprintf(f->retry_after, sizeof(f->retry_after), "%s", v);
	else if (!strcasecmp(line, "www-authenticate")) {
		size_t used = strlen(f->www_auth);

		snprintf(f->www_auth + used, sizeof(f->www_auth) - used, "%s%s", used ? ", " : "", v);
	} else if (!strcasecmp(line, "warning") && !strncmp(v, "299", 3)) {
		add_warning(f->r, v);
	} else if (!strcasecmp(line, "ratelimit-remaining")) {
		pthread_mutex_lock(&f->r->lock);
		snprintf(f->r->ratelimit, sizeof(f->r->ratelimit), "%s", v);
		pthread_mutex_unlock(&f->r->lock);
	}
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct lfs_fetch *f = ud;
	size_t n = size * nmemb;

	if (!f->status_checked) {
		f->status_checked = true;
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->status);
		f->deliver = (f->status == 200 || f->status == 206);
		f->skip = 0;
		if (f->deliver && f->received) {
			char want[64];

			snprintf(want, sizeof(want), "bytes %llu-", (unsigned long long)f->received);
			if (f->status == 200) {
				/* Range ignored: re-read from the start, drop what we have */
				f->skip = f->received;
			} else if (strncmp(f->content_range, want, strlen(want))) {
				f->bad_range = true;
				return 0;	/* abort this attempt */
			}
		}
	}
	if (!f->deliver) {
		if (f->errbody.len < ERRBODY_MAX)
			lfs_buf_append(&f->errbody, data, n < ERRBODY_MAX ? n : ERRBODY_MAX);
		return n;
	}
	if (f->skip) {
		size_t k = f->skip < n ? (size_t)f->skip : n;

		data += k;
		f->skip -= k;
		if (k == n)
			return n;
		if (lfs_buf_append(&f->pending, data, n - k) < 0)
			return 0;
		f->received += n - k;
		return n;
	}
	if (lfs_buf_append(&f->pending, data, n) < 0)
		return 0;
	f->received += n;
	return n;
}

static void end_attempt(struct lfs_fetch *f)
{
	if (f->easy) {
		curl_multi_remove_handle(f->multi, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
	}
	curl_slist_free_all(f->hdrs);
	f->hdrs = NULL;
	f->running = false;
}

static int start_attempt(struct lfs_fetch *f, struct lfs_error *err)
{
	struct lfs_registry *r = f->r;
	char hdr[128], scopebuf[512];
	const char *scope = lfs_registry_scope(r, scopebuf, sizeof(scopebuf));
	enum lfs_auth_mode mode;

	f->easy = curl_easy_init();
	if (!f->easy)
		return lfs_oom(err);
	f->status = 0;
	f->status_checked = f->deliver = f->bad_range = false;
	f->errbuf[0] = '\0';
	lfs_buf_free(&f->errbody);
	memset(&f->reply, 0, sizeof(f->reply));
	f->reply.content_length = -1;
	f->www_auth[0] = f->content_range[0] = f->retry_after[0] = '\0';

	lfs_registry_setup_easy(r, f->easy, f->errbuf);
	curl_easy_setopt(f->easy, CURLOPT_URL, f->url);
	curl_easy_setopt(f->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(f->easy, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	if (f->head)
		curl_easy_setopt(f->easy, CURLOPT_NOBODY, 1L);
	if (f->accept) {
		f->hdrs = curl_slist_append(f->hdrs, "Accept: " LFS_MANIFEST_ACCEPT);
	}
	if (f->received) {
		/* resume: the only time a Range header is sent */
		snprintf(hdr, sizeof(hdr), "Range: bytes=%llu-", (unsigned long long)f->received);
		f->hdrs = curl_slist_append(f->hdrs, hdr);
	}
	if (f->hdrs)
		curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->hdrs);

	pthread_mutex_lock(&r->lock);
	mode = r->auth;
	pthread_mutex_unlock(&r->lock);
	if (mode == LFS_AUTH_BEARER) {
		_cleanup_free_ char *tok = lfs_auth_token(r, scope, err);

		if (!tok) {
			end_attempt(f);
			return -1;
		}
		curl_easy_setopt(f->easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(f->easy, CURLOPT_XOAUTH2_BEARER, tok);	/* libcurl copies it */
	} else if (mode == LFS_AUTH_BASIC) {
		curl_easy_setopt(f->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(f->easy, CURLOPT_USERNAME, r->creds.user);
		curl_easy_setopt(f->easy, CURLOPT_PASSWORD, r->creds.pass);
	}
	if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK) {
		end_attempt(f);
		return lfs_error_set(err, LFS_E_SYSTEM, 0, "%s: curl_multi_add_handle failed", f->url);
	}
	f->running = true;
	return 0;
}

static bool transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_LOGIN_DENIED:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_FILESIZE_EXCEEDED:
		return false;
	default:
		return true;
	}
}

/* Sleep before a retry, in slices so a cancel is noticed. */
static int backoff(struct lfs_fetch *f, unsigned delay_ms, struct lfs_error *err)
{
	while (delay_ms) {
		unsigned slice = delay_ms > 50 ? 50 : delay_ms;

		if (f->cancel && *f->cancel)
			return lfs_error_set(err, LFS_E_SYSTEM, ECANCELED, "%s", f->url);
		usleep(slice * 1000u);
		delay_ms -= slice;
	}
	return 0;
}

static unsigned retry_delay(struct lfs_fetch *f)
{
	unsigned n = f->attempts ? f->attempts - 1 : 0;
	uint64_t d = (uint64_t)f->r->o.retry_delay_ms << (n > 10 ? 10 : n);

	if (f->retry_after[0]) {
		char *end;
		long s = strtol(f->retry_after, &end, 10);

		if (end != f->retry_after && s >= 0)
			d = (uint64_t)s * 1000;
	}
	if (d > f->r->o.retry_max_ms)
		d = f->r->o.retry_max_ms;
	return (unsigned)d;
}

/* The registry's {"errors":[{"code","message"}]} body, or a short snippet. */
static void registry_message(struct lfs_fetch *f, char *out, size_t len)
{
	json_t *root = NULL, *e0;
	json_error_t jerr;

	out[0] = '\0';
	if (f->errbody.len)
		root = json_loadb(f->errbody.data, f->errbody.len, 0, &jerr);
	e0 = json_array_get(json_object_get(root, "errors"), 0);
	if (json_is_object(e0)) {
		const char *code = json_string_value(json_object_get(e0, "code"));
		const char *msg = json_string_value(json_object_get(e0, "message"));

		snprintf(out, len, " (%s%s%s)", code ? code : "UNKNOWN", msg ? ": " : "", msg ? msg : "");
	}
	json_decref(root);
}

/* An attempt ended: decide between done, retry, re-auth and error. */
static int attempt_done(struct lfs_fetch *f, CURLcode cc, struct lfs_error *err)
{
	char msg[512], scopebuf[512];
	long status = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	end_attempt(f);
	if (cc == CURLE_OK && (status == 200 || status == 206) && !f->bad_range) {
		f->done_ok = true;
		return 0;
	}
	if (cc == CURLE_OK && status == 401) {
		if (f->reauthed)
			goto auth_failed;
		f->reauthed = true;
		if (!f->www_auth[0])
			goto auth_failed;
		if (lfs_auth_challenge(f->r, f->www_auth, lfs_registry_scope(f->r, scopebuf, sizeof(scopebuf)),
				     err) < 0)
			return -1;
		return 0;	/* the next attempt carries the new credentials */
	}
	if (cc == CURLE_OK && status != 429 && status < 500) {
		registry_message(f, msg, sizeof(msg));
		if (status == 403)
			return lfs_error_set(err, LFS_E_AUTH, 0, "%s: access denied (HTTP 403)%s", f->url, msg);
		if (status == 404)
			return lfs_error_set(err, LFS_E_NOTFOUND, 0, "%s: not found (HTTP 404)%s", f->url, msg);
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s: unexpected HTTP %ld%s", f->url, status, msg);
	}
	if (cc != CURLE_OK && !f->bad_range && !transient(cc))
		return lfs_error_set(err, LFS_E_NETWORK, 0,
				     "%s: %s", f->url, f->errbuf[0] ? f->errbuf : curl_easy_strerror(cc));
	/* transient: transport error, broken body, 429 or 5xx */
	if (f->received > f->received_at_failure) {
		/* progress since the last failure: a fresh retry budget */
		f->attempts = 0;
		f->received_at_failure = f->received;
	}
	if (f->received)
		f->resumes++;
	if (++f->attempts > f->r->o.retries) {
		if (cc == CURLE_OK)
			return lfs_error_set(err, LFS_E_NETWORK, 0, "%s: HTTP %ld after %u retries", f->url,
					     status, f->r->o.retries);
		return lfs_error_set(err, LFS_E_NETWORK, 0, "%s: %s (after %u retries)", f->url,
				     f->bad_range ? "resumed response did not start at the requested offset" :
				     (f->errbuf[0] ? f->errbuf : curl_easy_strerror(cc)),
				     f->r->o.retries);
	}
	/*
	 * What was received stays queued for the reader: the next attempt asks
	 * for the rest with Range, and a 200 to it is skipped up to that offset,
	 * never appended.
	 */
	return backoff(f, retry_delay(f), err);

auth_failed:
	registry_message(f, msg, sizeof(msg));
	return lfs_error_set(err, LFS_E_AUTH, 0, "%s: authentication failed (HTTP 401)%s", f->url, msg);
}

long lfs_fetch_read(void *ud, void *buf, size_t len, struct lfs_error *err)
{
	struct lfs_fetch *f = ud;

	for (;;) {
		int still = 0;
		CURLMsg *m;
		int left;

		if (f->cancel && *f->cancel)
			return lfs_error_set(err, LFS_E_SYSTEM, ECANCELED, "%s", f->url);
		if (f->pending_pos < f->pending.len) {
			size_t n = f->pending.len - f->pending_pos;

			if (n > len)
				n = len;
			memcpy(buf, f->pending.data + f->pending_pos, n);
			f->pending_pos += n;
			if (f->pending_pos == f->pending.len)
				f->pending.len = f->pending_pos = 0;
			return (long)n;
		}
		if (f->done_ok)
			return 0;
		if (!f->running && start_attempt(f, err) < 0)
			return -1;
		if (curl_multi_perform(f->multi, &still) != CURLM_OK)
			return lfs_error_set(err, LFS_E_SYSTEM, 0, "%s: curl_multi_perform failed", f->url);
		while ((m = curl_multi_info_read(f->multi, &left))) {
			if (m->msg == CURLMSG_DONE && attempt_done(f, m->data.result, err) < 0)
				return -1;
		}
		if (still && f->pending_pos == f->pending.len)
			curl_multi_poll(f->multi, NULL, 0, 200, NULL);
	}
}

static int fetch_new(struct lfs_registry *r, const char *kind, const char *ref, bool head,
		     bool accept, const volatile int *cancel, struct lfs_fetch **out,
		     struct lfs_error *err)
{
	struct lfs_fetch *f = calloc(1, sizeof(*f));

	if (!f)
		return lfs_oom(err);
	f->r = r;
	f->head = head;
	f->accept = accept ? LFS_MANIFEST_ACCEPT : NULL;
	f->cancel = cancel;
	f->multi = curl_multi_init();
	if (!f->multi || asprintf(&f->url, "%s/v2/%s/%s/%s", r->base, r->repo, kind, ref) < 0) {
		f->url = NULL;
		lfs_fetch_free(f);
		return lfs_oom(err);
	}
	*out = f;
	return 0;
}

void lfs_fetch_free(struct lfs_fetch *f)
{
	if (!f)
		return;
	end_attempt(f);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	lfs_buf_free(&f->pending);
	lfs_buf_free(&f->errbody);
	free(f->url);
	free(f);
}

unsigned lfs_fetch_resumes(const struct lfs_fetch *f)
{
	return f->resumes;
}

/* Sizes are checked by the layer stream, on the exact bytes. */
int lfs_fetch_blob(struct lfs_registry *r, const char *digest, const volatile int *cancel,
		   struct lfs_fetch **out, struct lfs_error *err)
{
	return fetch_new(r, "blobs", digest, false, false, cancel, out, err);
}

/* Read a whole body into memory, capped. */
static int fetch_all(struct lfs_fetch *f, size_t max, struct lfs_buf *body, struct lfs_error *err)
{
	char chunk[65536];
	long n;

	while ((n = lfs_fetch_read(f, chunk, sizeof(chunk), err)) > 0) {
		if (body->len + (size_t)n > max)
			return lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s: body larger than %zu bytes",
					     f->url, max);
		if (lfs_buf_append(body, chunk, (size_t)n) < 0)
			return lfs_oom(err);
	}
	if (n < 0)
		return -1;
	if (!body->data && lfs_buf_append(body, "", 0) < 0)
		return lfs_oom(err);
	return 0;
}

int lfs_registry_head_manifest(struct lfs_registry *r, const char *ref,
			       struct lfs_http_reply *reply, struct lfs_error *err)
{
	struct lfs_fetch *f;
	char buf[1];
	long n;

	if (fetch_new(r, "manifests", ref, true, true, NULL, &f, err) < 0)
		return -1;
	n = lfs_fetch_read(f, buf, sizeof(buf), err);
	if (n >= 0)
		*reply = f->reply;
	lfs_fetch_free(f);
	return n < 0 ? -1 : 0;
}

int lfs_registry_get_manifest(struct lfs_registry *r, const char *ref, struct lfs_buf *body,
			      struct lfs_http_reply *reply, struct lfs_error *err)
{
	struct lfs_fetch *f;
	int ret;

	if (fetch_new(r, "manifests", ref, false, true, NULL, &f, err) < 0)
		return -1;
	ret = fetch_all(f, LFS_MANIFEST_MAX, body, err);
	if (ret == 0)
		*reply = f->reply;
	lfs_fetch_free(f);
	return ret;
}

int lfs_registry_get_blob(struct lfs_registry *r, const char *digest, size_t max,
			  struct lfs_buf *body, struct lfs_error *err)
{
	struct lfs_fetch *f;
	int ret;

	if (fetch_new(r, "blobs", digest, false, false, NULL, &f, err) < 0)
		return -1;
	ret = fetch_all(f, max, body, err);
	lfs_fetch_free(f);
	return ret;
}

int lfs_init(struct lfs_error *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return lfs_error_set(err, LFS_E_SYSTEM, 0, "curl_global_init failed");
	return 0;
}

void lfs_cleanup(void)
{
	curl_global_cleanup();
}
