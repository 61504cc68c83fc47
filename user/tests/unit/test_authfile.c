// SPDX-License-Identifier: GPL-2.0
/*
 * Credentials: auth.json entries (auth, username/password, identitytoken),
 * credHelpers and credsStore, and docker-credential-* helpers run from a
 * temporary directory put first on $PATH.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layerfs.h"

static char dir[] = "/tmp/layerfs-authfile.XXXXXX";

static void put(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static const char *file(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void setup(void)
{
	char *path;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	/* answers for two servers; "not found" for the rest, as the real helpers do */
	put("docker-credential-test",
	    "#!/bin/sh\n"
	    "[ \"$1\" = get ] || exit 2\n"
	    "host=$(cat)\n"
	    "case \"$host\" in\n"
	    "reg.example:5000) printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3:cret\"}\\n' \"$host\" ;;\n"
	    "https://index.docker.io/v1/) printf '{\"ServerURL\":\"%s\",\"Username\":\"<token>\",\"Secret\":\"idtok\"}' \"$host\" ;;\n"
	    "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	    "esac\n", 0755);
	put("docker-credential-slow", "#!/bin/sh\nexec sleep 30\n", 0755);
	put("docker-credential-loud", "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' a\n", 0755);
	put("docker-credential-fails",
	    "#!/bin/sh\necho 'keychain is locked' >&2\necho 'second line' >&2\nexit 3\n", 0755);
	put("docker-credential-garbage", "#!/bin/sh\necho 'this is not JSON'\n", 0755);
	put("docker-credential-nosecret", "#!/bin/sh\necho '{\"Username\":\"bob\"}'\n", 0755);
	if (asprintf(&path, "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin") < 0)
		exit(1);
	setenv("PATH", path, 1);
	free(path);
}

static void helper_username_and_secret(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };

	CHECK(lfs_cred_helper_get("test", "reg.example:5000", 5000, &c, &e) == 1);
	CHECK_STR(c.user, "alice");
	CHECK_STR(c.pass, "s3:cret");
	CHECK(c.identity_token == NULL);
	lfs_credentials_free(&c);
	CHECK(c.user == NULL && c.pass == NULL);
}

static void helper_token_username_means_identity_token(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };

	CHECK(lfs_cred_helper_get("test", "https://index.docker.io/v1/", 5000, &c, &e) == 1);
	CHECK(c.user == NULL && c.pass == NULL);
	CHECK_STR(c.identity_token, "idtok");
	lfs_credentials_free(&c);
}

static void helper_not_found_message_is_no_credentials(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };

	CHECK(lfs_cred_helper_get("test", "other.example", 5000, &c, &e) == 0);
	CHECK(!c.user && !c.pass && !c.identity_token);
}

static void helper_errors_are_one_clear_line(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };
	struct timespec t0, t1;

	CHECK(lfs_cred_helper_get("missing", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "docker-credential-missing not found in $PATH");
	CHECK(e.kind == LFS_E_AUTH);

	CHECK(lfs_cred_helper_get("../bin/sh", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a helper name");

	CHECK(lfs_cred_helper_get("fails", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "credential helper \"fails\" for h: docker-credential-fails get failed (exit 3): keychain is locked");
	CHECK(!strchr(e.msg, '\n'));

	CHECK(lfs_cred_helper_get("garbage", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "did not print a JSON object");

	CHECK(lfs_cred_helper_get("nosecret", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "printed no \"Secret\"");

	CHECK(lfs_cred_helper_get("loud", "h", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "printed more than 65536 bytes");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(lfs_cred_helper_get("slow", "h", 300, &c, &e) < 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_CONTAINS(e.msg, "docker-credential-slow get timed out after 300 ms");
	CHECK(t1.tv_sec - t0.tv_sec < 5);
}

static void authfile_cred_helpers_auths_and_creds_store(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };

	put("config.json",
	    "{\"credHelpers\": {\"reg.example:5000\": \"test\", \"docker.io\": \"test\"},\n"
	    " \"auths\": {\"reg.example:5000\": {\"auth\": \"aWdub3JlZDppZ25vcmVk\"},\n"
	    "           \"plain.example\": {\"auth\": \"Ym9iOnB3\"},\n"
	    "           \"store.example\": {}},\n"
	    " \"credsStore\": \"fails\"}\n", 0600);
	/* credHelpers wins over an auths entry of the same host */
	CHECK(lfs_auth_lookup(file("config.json"), "reg.example:5000", 5000, &c, &e) == 1);
	CHECK_STR(c.user, "alice");
	lfs_credentials_free(&c);
	/* docker.io: the helper is asked about Docker's historical server key */
	CHECK(lfs_auth_lookup(file("config.json"), "registry-1.docker.io", 5000, &c, &e) == 1);
	CHECK_STR(c.identity_token, "idtok");
	lfs_credentials_free(&c);
	/* an auths entry with credentials comes before the default store */
	CHECK(lfs_auth_lookup(file("config.json"), "plain.example", 5000, &c, &e) == 1);
	CHECK_STR(c.user, "bob");
	CHECK_STR(c.pass, "pw");
	lfs_credentials_free(&c);
	/* an empty entry (as "docker login" writes with a store): the store, named in the error */
	CHECK(lfs_auth_lookup(file("config.json"), "store.example", 5000, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: credential helper \"fails\" for store.example");

	put("store.json", "{\"credsStore\": \"test\"}", 0600);
	CHECK(lfs_auth_lookup(file("store.json"), "nowhere.example", 5000, &c, &e) == 0);
	CHECK(lfs_auth_lookup(file("store.json"), "reg.example:5000", 5000, &c, &e) == 1);
	CHECK_STR(c.pass, "s3:cret");
	lfs_credentials_free(&c);
}

static void authfile_identitytoken(void)
{
	struct lfs_credentials c;
	struct lfs_error e = { 0 };

	/* "docker login" against a token server that issues refresh tokens: base64("me:") */
	put("id.json", "{\"auths\": {\"https://reg.example/v1/\": {\"auth\": \"bWU6\", \"identitytoken\": \"rt-1\"},"
	    " \"bare.example\": {\"identitytoken\": \"rt-2\"}}}", 0600);
	CHECK(lfs_auth_lookup(file("id.json"), "reg.example", 5000, &c, &e) == 1);
	CHECK_STR(c.user, "me");
	CHECK_STR(c.pass, "");
	CHECK_STR(c.identity_token, "rt-1");
	lfs_credentials_free(&c);
	CHECK(lfs_auth_lookup(file("id.json"), "bare.example", 5000, &c, &e) == 1);
	CHECK(c.user == NULL);
	CHECK_STR(c.identity_token, "rt-2");
	lfs_credentials_free(&c);
	CHECK(lfs_auth_lookup(file("id.json"), "other.example", 5000, &c, &e) == 0);
}

int main(void)
{
	char cmd[300];
	int ret;

	setup();
	RUN(helper_username_and_secret);
	RUN(helper_token_username_means_identity_token);
	RUN(helper_not_found_message_is_no_credentials);
	RUN(helper_errors_are_one_clear_line);
	RUN(authfile_cred_helpers_auths_and_creds_store);
	RUN(authfile_identitytoken);
	ret = DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return ret;
}
