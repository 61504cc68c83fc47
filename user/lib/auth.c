// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Registry authentication: the WWW-Authenticate challenge loop, Bearer
 * tokens from the challenge's realm, a token cache per scope, and Basic auth.
 * Tokens come from one of two requests to the realm:
 *   - the OAuth2 POST (distribution docs/spec/auth/oauth.md), a form with
 *     grant_type=refresh_token (an identity token) or grant_type=password
 *     (when configured), service, scope and client_id=layerctl; used
 *     whenever there is an identity token.  A realm that answers it 404 or
 *     405 does not implement it: the GET below is used instead, from then on.
 *   - the GET (docs/spec/auth/token.md) with "service" and repeated "scope",
 *     and Basic credentials when a password is known (an identity token is
 *     never sent there).
 * "token" or "access_token" is accepted in the answer, "expires_in" honoured.
 * Credentials come from auth.json or credential helpers (authfile.c,
 * credhelper.c).  A realm gets credentials only over https, or plain http
 * when its host is configured insecure.
 *
 * Locking: r->lock guards the mode, realm, service and token cache; no lock
 * is held across a network request.  The credentials are looked up once,
 * under the lock (a credential helper may run then); other threads wait.
 */
#include <errno.h>
#include <jansson.h>
#include <time.h>
#include <curl/curl.h>

#include "internal.h"

#define TOKEN_MAX (1u << 20)

static int load_creds(struct lfs_registry *r, struct lfs_error *err)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->creds_loaded) {
		ret = lfs_auth_lookup(r->o.auth_file, r->host, r->o.helper_timeout_ms, &r->creds, err);
		if (ret >= 0)
			r->creds_loaded = true;
	}
	pthread_mutex_unlock(&r->lock);
	return ret < 0 ? -1 : 0;
}

/* A user name and a non-empty password (an identity token comes as "user:"). */
static bool has_password(const struct lfs_registry *r)
{
	return r->creds.user && *r->creds.user && r->creds.pass && *r->creds.pass;
}

static size_t buf_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct lfs_buf *b = ud;
	size_t n = size * nmemb;

	if (b->len + n > TOKEN_MAX || lfs_buf_append(b, data, n) < 0)
		return 0;
	return n;
}

/* Only https realms, or http ones configured insecure: credentials go there. */
static int check_realm(struct lfs_registry *r, const char *realm, struct lfs_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, hp[300];
	int ret = 0;

	if (!u)
		return lfs_oom(err);
	if (curl_url_set(u, CURLUPART_URL, realm, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		ret = lfs_error_set(err, LFS_E_AUTH, 0, "token realm \"%.200s\" is not a URL", realm);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	snprintf(hp, sizeof(hp), "%s%s%s", host, port ? ":" : "", port ? port : "");
	if (strcmp(scheme, "https") &&
	    !(strcmp(scheme, "http") == 0 && lfs_host_in_list(hp, r->o.insecure, r->o.n_insecure)))
		ret = lfs_error_set(err, LFS_E_AUTH, 0,
				    "token realm \"%.200s\" is not https (configure %s as insecure to allow it)",
				    realm, hp);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/* Append "name=value" to a form or query, encoded by libcurl. */
static int form_add(CURLU *u, const char *name, const char *value)
{
	_cleanup_free_ char *kv = NULL;
	CURLUcode uc;

	if (asprintf(&kv, "%s=%s", name, value) < 0) {
		kv = NULL;
		return -1;
	}
	uc = curl_url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE);
	memset(kv, 0, strlen(kv));
	return uc == CURLUE_OK ? 0 : -1;
}

/*
 * One request to the token server: a POST of @form when it is not NULL, else
 * a GET of @url with Basic credentials when @user is set.  Transport errors,
 * 5xx and 429 are retried.  Returns 0 with *status and @body, or -1.
 */
static int token_request(struct lfs_registry *r, const char *realm, const char *url,
			 const char *form, const char *user, const char *pass, long *status,
			 struct lfs_buf *body, struct lfs_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	unsigned attempt;
	CURL *e;

	for (attempt = 0;; attempt++) {
		e = curl_easy_init();
		if (!e)
			return lfs_oom(err);
		lfs_registry_setup_easy(r, e, errbuf);
		/* the realm may be http only when configured insecure (checked before) */
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, buf_write_cb);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
		if (form) {
			/* application/x-www-form-urlencoded; the secrets are in the form */
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
		} else if (user) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
			curl_easy_setopt(e, CURLOPT_USERNAME, user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, pass);
		}
		cc = curl_easy_perform(e);
		*status = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
		curl_easy_cleanup(e);
		if ((cc != CURLE_OK || *status >= 500 || *status == 429) && attempt < r->o.retries) {
			uint64_t ms = (uint64_t)r->o.retry_delay_ms << (attempt > 10 ? 10 : attempt);

			lfs_buf_free(body);
			usleep((useconds_t)(ms > r->o.retry_max_ms ? r->o.retry_max_ms : ms) * 1000u);
			continue;
		}
		break;
	}
	if (cc != CURLE_OK)
		return lfs_error_set(err, LFS_E_NETWORK, 0, "token server %.200s: %s", realm,
				     errbuf[0] ? errbuf : curl_easy_strerror(cc));
	return 0;
}

/* An OAuth2 error answer ({"error": "invalid_grant", ...}) as ": invalid_grant". */
static void oauth_error(const struct lfs_buf *body, char *out, size_t len)
{
	json_error_t jerr;
	json_t *root = body->len ? json_loadb(body->data, body->len, 0, &jerr) : NULL;
	const char *e = json_string_value(json_object_get(root, "error"));

	snprintf(out, len, "%s%.100s", e ? ": " : "", e ? e : "");
	json_decref(root);
}

/* The OAuth2 POST form for @scope (the caller zeroes and frees it); NULL when out of memory. */
static char *oauth_form(struct lfs_registry *r, const char *service, const char *scope)
{
	const struct lfs_credentials *c = &r->creds;
	char *q = NULL, *form = NULL;
	CURLU *u = curl_url();
	int bad;

	if (!u || curl_url_set(u, CURLUPART_URL, "https://form.invalid/", 0) != CURLUE_OK)
		goto out;
	if (c->identity_token)
		bad = form_add(u, "grant_type", "refresh_token") ||
		      form_add(u, "refresh_token", c->identity_token);
	else
		bad = form_add(u, "grant_type", "password") || form_add(u, "username", c->user) ||
		      form_add(u, "password", c->pass);
	/* one "scope" holding the scopes separated by spaces (RFC 6749 section 3.3) */
	bad = bad || (service && form_add(u, "service", service)) || form_add(u, "scope", scope) ||
	      form_add(u, "client_id", LFS_OAUTH2_CLIENT_ID);
	if (!bad && curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK)
		form = strdup(q);
out:
	if (q)
		memset(q, 0, strlen(q));
	curl_free(q);
	curl_url_cleanup(u);	/* libcurl frees its copies without zeroing them */
	return form;
}

static int fetch_token(struct lfs_registry *r, const char *scope, struct lfs_error *err)
{
	struct lfs_buf body = { 0 };
	char *url = NULL, why[128];
	CURLU *u = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	const char *tok, *what;
	long status = 0, expires = 60;
	bool post;
	int ret = -1, slot;
	_cleanup_free_ char *q1 = NULL, *q2 = NULL, *realm = NULL, *service = NULL, *form = NULL;

	pthread_mutex_lock(&r->lock);
	realm = r->realm ? strdup(r->realm) : NULL;
	service = r->service ? strdup(r->service) : NULL;
	post = !r->oauth2_unsupported && (r->creds.identity_token || (r->o.oauth2 && has_password(r)));
	pthread_mutex_unlock(&r->lock);
	if (!realm)
		return lfs_error_set(err, LFS_E_AUTH, 0, "%s: Bearer challenge without realm", r->host);
	if (check_realm(r, realm, err) < 0)
		return -1;
	if (post) {
		form = oauth_form(r, service, scope);
		if (!form)
			return lfs_oom(err);
		ret = token_request(r, realm, realm, form, NULL, NULL, &status, &body, err);
		memset(form, 0, strlen(form));
		if (ret < 0)
			goto out;
		ret = -1;
		if (status == 404 || status == 405) {
			/* no OAuth2 here: the GET token flow, for the rest of the pull */
			pthread_mutex_lock(&r->lock);
			r->oauth2_unsupported = true;
			pthread_mutex_unlock(&r->lock);
			lfs_buf_free(&body);
			post = false;
		}
	}
	if (!post) {
		if (service && asprintf(&q1, "service=%s", service) < 0)
			q1 = NULL;
		if (asprintf(&q2, "scope=%s", scope) < 0) {
			q2 = NULL;
			return lfs_oom(err);
		}
		u = curl_url();
		if (!u || curl_url_set(u, CURLUPART_URL, realm, 0) != CURLUE_OK ||
		    (q1 && curl_url_set(u, CURLUPART_QUERY, q1, CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK) ||
		    curl_url_set(u, CURLUPART_QUERY, q2, CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
			lfs_error_set(err, LFS_E_AUTH, 0, "cannot build token URL from realm \"%.200s\"", realm);
			goto out;
		}
		/* Basic only with a password: an identity token is for the POST alone */
		if (token_request(r, realm, url, NULL, has_password(r) ? r->creds.user : NULL,
				  r->creds.pass, &status, &body, err) < 0)
			goto out;
	}
	what = post ? (r->creds.identity_token ? "the identity token" : "the credentials") :
	       (has_password(r) ? "the credentials" : "anonymous access");
	if (status == 401 || status == 403 || (post && status == 400)) {
		oauth_error(&body, why, sizeof(why));
		lfs_error_set(err, LFS_E_AUTH, 0, "token server %.200s refused %s (%sHTTP %ld%s)", realm,
			      what, post ? "OAuth2 POST, " : "", status, why);
		goto out;
	}
	if (status != 200) {
		lfs_error_set(err, LFS_E_AUTH, 0, "token server %.200s answered HTTP %ld%s", realm, status,
			      post ? " to the OAuth2 POST" : "");
		goto out;
	}
	root = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
	tok = root ? json_string_value(json_object_get(root, "token")) : NULL;
	if (!tok || !*tok)
		tok = root ? json_string_value(json_object_get(root, "access_token")) : NULL;
	if (!tok || !*tok) {
		lfs_error_set(err, LFS_E_AUTH, 0, "token server %.200s: answer has no token", realm);
		goto out;
	}
	if (json_is_integer(json_object_get(root, "expires_in")) &&
	    json_integer_value(json_object_get(root, "expires_in")) > 0)
		expires = (long)json_integer_value(json_object_get(root, "expires_in"));

	pthread_mutex_lock(&r->lock);
	for (slot = 0; slot < LFS_TOKEN_SLOTS - 1; slot++)
		if (!r->tokens[slot].scope || !strcmp(r->tokens[slot].scope, scope))
			break;
	free(r->tokens[slot].scope);
	free(r->tokens[slot].token);
	r->tokens[slot].scope = strdup(scope);
	r->tokens[slot].token = strdup(tok);
	/* refresh a little early so a token never expires in flight */
	r->tokens[slot].expires = time(NULL) + (expires > 20 ? expires - 10 : expires / 2);
	if (!r->tokens[slot].scope || !r->tokens[slot].token) {
		free(r->tokens[slot].scope);
		free(r->tokens[slot].token);
		r->tokens[slot].scope = r->tokens[slot].token = NULL;
		pthread_mutex_unlock(&r->lock);
		lfs_oom(err);
		goto out;
	}
	pthread_mutex_unlock(&r->lock);
	ret = 0;
out:
	json_decref(root);
	if (body.data)
		memset(body.data, 0, body.len);
	lfs_buf_free(&body);
	curl_free(url);
	curl_url_cleanup(u);
	return ret;
}

static void drop_token(struct lfs_registry *r, const char *scope)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < LFS_TOKEN_SLOTS; i++)
		if (r->tokens[i].scope && !strcmp(r->tokens[i].scope, scope))
			r->tokens[i].expires = 0;
	pthread_mutex_unlock(&r->lock);
}

char *lfs_auth_token(struct lfs_registry *r, const char *scope, struct lfs_error *err)
{
	char *tok = NULL;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&r->lock);
		for (i = 0; i < LFS_TOKEN_SLOTS; i++)
			if (r->tokens[i].scope && !strcmp(r->tokens[i].scope, scope) &&
			    r->tokens[i].expires > time(NULL))
				tok = strdup(r->tokens[i].token);
		pthread_mutex_unlock(&r->lock);
		if (tok || pass)
			break;
		if (fetch_token(r, scope, err) < 0)
			return NULL;
	}
	if (!tok)
		lfs_error_set(err, LFS_E_AUTH, 0, "%s: no usable token", r->host);
	return tok;
}

/* React to a 401's challenges: choose Bearer (preferred) or Basic. */
int lfs_auth_challenge(struct lfs_registry *r, const char *hdr, const char *scope,
			    struct lfs_error *err)
{
	struct lfs_challenges ch;
	const struct lfs_challenge *bearer = NULL, *basic = NULL;
	size_t i;
	int ret = 0;

	if (lfs_www_authenticate_parse(hdr, &ch, err) < 0) {
		lfs_error_prefix(err, "%s: 401 Unauthorized", r->host);
		return -1;
	}
	for (i = 0; i < ch.n; i++) {
		if (!strcmp(ch.v[i].scheme, "bearer") && !bearer)
			bearer = &ch.v[i];
		else if (!strcmp(ch.v[i].scheme, "basic") && !basic)
			basic = &ch.v[i];
	}
	if (load_creds(r, err) < 0)
		goto out_fail;
	if (bearer) {
		const char *realm = lfs_challenge_param(bearer, "realm");
		const char *service = lfs_challenge_param(bearer, "service");

		pthread_mutex_lock(&r->lock);
		free(r->realm);
		free(r->service);
		r->realm = realm ? strdup(realm) : NULL;
		r->service = service ? strdup(service) : NULL;
		r->auth = LFS_AUTH_BEARER;
		pthread_mutex_unlock(&r->lock);
		drop_token(r, scope);
		if (fetch_token(r, scope, err) < 0)
			goto out_fail;
	} else if (basic) {
		if (!has_password(r)) {
			lfs_error_set(err, LFS_E_AUTH, 0,
				      "%s requires authentication and no credentials were found for it", r->host);
			goto out_fail;
		}
		pthread_mutex_lock(&r->lock);
		r->auth = LFS_AUTH_BASIC;
		pthread_mutex_unlock(&r->lock);
	} else {
		lfs_error_set(err, LFS_E_AUTH, 0, "%s: unsupported authentication scheme \"%s\"",
			      r->host, ch.n ? ch.v[0].scheme : "");
		goto out_fail;
	}
out:
	lfs_challenges_free(&ch);
	return ret;
out_fail:
	ret = -1;
	goto out;
}
