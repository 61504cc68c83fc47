// SPDX-License-Identifier: GPL-2.0
/* layerd.conf parsing: every key, and every error names file:line. */
#include <stdlib.h>

#include "config.h"
#include "harness.h"
#include "layerfs.h"

static int parse(const char *text, struct layerd_config *c, char *eb, size_t el)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	layerd_config_default(c);
	eb[0] = '\0';
	r = layerd_config_parse(f, "test.conf", c, eb, el);
	fclose(f);
	return r;
}

static void expect_error(const char *text, const char *msg)
{
	struct layerd_config c;
	char eb[512];

	CHECK(parse(text, &c, eb, sizeof(eb)) < 0);
	CHECK_CONTAINS(eb, msg);
	layerd_config_free(&c);
}

static void defaults_without_a_file(void)
{
	struct layerd_config c;
	char eb[256];

	layerd_config_default(&c);
	CHECK(layerd_config_load("/nonexistent/layerd.conf", 0, &c, eb, sizeof(eb)) == 0);
	CHECK(c.store == NULL);
	CHECK(c.parallelism == LAYERD_PARALLELISM_DEFAULT);
	CHECK(c.pull_policy == LAYERFS_PULL_MISSING);
	CHECK(c.log_level == LOG_LVL_INFO);
	CHECK(layerd_config_load("/nonexistent/layerd.conf", 1, &c, eb, sizeof(eb)) < 0);
	CHECK_CONTAINS(eb, "/nonexistent/layerd.conf: No such file");
	layerd_config_free(&c);
}

static void every_key_is_read(void)
{
	struct layerd_config c;
	char eb[256];

	CHECK(parse("# comment\n"
		    "\n"
		    "  store = /srv/layer store  \n"
		    "insecure=127.0.0.1:5000\n"
		    "insecure = registry.local\n"
		    "\t# indented comment\n"
		    "auth_file = /etc/layerfs/auth.json\n"
		    "ca_file = /etc/ssl/ca#1.pem\n"
		    "parallelism = 8\n"
		    "pull_policy = never\n"
		    "mirror = docker.io=127.0.0.1:5001\n"
		    "mirror = 127.0.0.1:5000 = mirror.local:443 , 127.0.0.1:5002\n"
		    "mirror = index.docker.io=m2.example\n"
		    "log_level = debug", &c, eb, sizeof(eb)) == 0);
	CHECK_STR(eb, "");
	CHECK_STR(c.store, "/srv/layer store");
	CHECK(c.n_insecure == 2);
	CHECK_STR(c.insecure[0], "127.0.0.1:5000");
	CHECK_STR(c.insecure[1], "registry.local");
	CHECK_STR(c.auth_file, "/etc/layerfs/auth.json");
	CHECK_STR(c.ca_file, "/etc/ssl/ca#1.pem");
	CHECK(c.parallelism == 8);
	CHECK(c.pull_policy == LAYERFS_PULL_NEVER);
	CHECK(c.log_level == LOG_LVL_DEBUG);
	CHECK(c.mirrors.n == 2);
	if (c.mirrors.n == 2) {
		CHECK_STR(c.mirrors.v[0].registry, "docker.io");
		CHECK(c.mirrors.v[0].n_hosts == 2);
		CHECK_STR(c.mirrors.v[0].hosts[0], "127.0.0.1:5001");
		CHECK_STR(c.mirrors.v[0].hosts[1], "m2.example");
		CHECK_STR(c.mirrors.v[1].registry, "127.0.0.1:5000");
		CHECK(c.mirrors.v[1].n_hosts == 2);
		CHECK_STR(c.mirrors.v[1].hosts[0], "mirror.local:443");
		CHECK_STR(c.mirrors.v[1].hosts[1], "127.0.0.1:5002");
	}
	CHECK(lfs_mirrors_find(&c.mirrors, "registry-1.docker.io") == &c.mirrors.v[0]);
	CHECK(lfs_mirrors_find(&c.mirrors, "quay.io") == NULL);
	layerd_config_free(&c);
	CHECK(c.mirrors.n == 0 && c.mirrors.v == NULL);
}

static void unknown_key_names_file_and_line(void)
{
	expect_error("store = /a\n\nmirrors = docker.io=127.0.0.1:5000\n",
		     "test.conf:3: unknown key \"mirrors\"");
}

static void bad_values_name_file_and_line(void)
{
	expect_error("parallelism = 0\n", "test.conf:1: parallelism wants a number from 1 to 64");
	expect_error("parallelism = 65\n", "test.conf:1: parallelism");
	expect_error("parallelism = 4x\n", "test.conf:1: parallelism");
	expect_error("parallelism = -1\n", "test.conf:1: parallelism");
	expect_error("#\npull_policy = sometimes\n", "test.conf:2: pull_policy wants missing, never or always");
	expect_error("log_level = loud\n", "test.conf:1: log_level wants");
	expect_error("store = relative/path\n", "test.conf:1: store must be an absolute path");
	expect_error("insecure = http://host\n", "test.conf:1: insecure wants HOST or HOST:PORT");
	expect_error("insecure = host:99999\n", "test.conf:1: insecure");
	expect_error("insecure = host:\n", "test.conf:1: insecure");
}

static void bad_mirrors_name_file_and_line(void)
{
	expect_error("\nmirror = 127.0.0.1:5001\n", "test.conf:2: mirror \"127.0.0.1:5001\": want REGISTRY=MIRROR");
	expect_error("mirror = =m.local\n", "test.conf:1: mirror \"=m.local\": REGISTRY \"\" is not a HOST[:PORT]");
	expect_error("mirror = https://docker.io=m.local\n", "test.conf:1: mirror \"https://docker.io=m.local\": REGISTRY");
	expect_error("mirror = docker.io=\n", "test.conf:1: mirror of docker.io: empty mirror name");
	expect_error("mirror = docker.io=a.local,,b.local\n", "test.conf:1: mirror of docker.io: empty mirror name");
	expect_error("mirror = docker.io=a.local,\n", "test.conf:1: mirror of docker.io: empty mirror name");
	expect_error("mirror = docker.io=http://m.local\n", "test.conf:1: mirror \"http://m.local\" of docker.io: HOST[:PORT] without a scheme");
	expect_error("mirror = docker.io=m.local/hub\n", "test.conf:1: mirror \"m.local/hub\" of docker.io: HOST[:PORT] without a path");
	expect_error("mirror = docker.io=m.local:99999\n", "test.conf:1: mirror \"m.local:99999\" of docker.io: not a HOST[:PORT]");
	expect_error("mirror = docker.io=m_x.local\n", "test.conf:1: mirror \"m_x.local\" of docker.io: not a HOST[:PORT]");
	expect_error("mirror = docker.io=registry-1.docker.io\n", "test.conf:1: mirror \"registry-1.docker.io\" is the registry itself");
	expect_error("mirror = h:5000=h:5000\n", "test.conf:1: mirror \"h:5000\" is the registry itself");
	expect_error("mirror = docker.io=a.local,a.local\n", "test.conf:1: mirror a.local of docker.io is listed twice");
	expect_error("mirror = docker.io=a.local\nmirror = index.docker.io=a.local\n",
		     "test.conf:2: mirror a.local of docker.io is listed twice");
}

static void too_many_mirrors(void)
{
	char text[4096] = "mirror = docker.io=m0.local";
	struct layerd_config c;
	char eb[512];
	int i;

	for (i = 1; i < LFS_MIRRORS_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), ",m%d.local", i);
	CHECK(parse(text, &c, eb, sizeof(eb)) == 0);
	CHECK(c.mirrors.n == 1 && c.mirrors.v[0].n_hosts == LFS_MIRRORS_MAX);
	layerd_config_free(&c);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "\nmirror = docker.io=one.more\n");
	expect_error(text, "test.conf:2: more than 16 mirrors of docker.io");
}

static void malformed_lines_are_errors(void)
{
	expect_error("store /a\n", "test.conf:1: expected \"key = value\"");
	expect_error("= /a\n", "test.conf:1: no key before '='");
	expect_error("\nstore =   \n", "test.conf:2: store has no value");
}

static void single_keys_twice_are_errors(void)
{
	expect_error("store = /a\nstore = /b\n", "test.conf:2: store is given twice");
	expect_error("parallelism = 1\nparallelism = 2\n", "test.conf:2: parallelism is given twice");
	expect_error("log_level = info\nlog_level = info\n", "test.conf:2: log_level is given twice");
}

static void too_many_insecure(void)
{
	char text[4096] = "";
	int i;

	for (i = 0; i <= LAYERD_INSECURE_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "insecure = h%d\n", i);
	expect_error(text, "test.conf:33: more than 32 insecure registries");
}

int main(void)
{
	RUN(defaults_without_a_file);
	RUN(every_key_is_read);
	RUN(unknown_key_names_file_and_line);
	RUN(bad_values_name_file_and_line);
	RUN(bad_mirrors_name_file_and_line);
	RUN(too_many_mirrors);
	RUN(malformed_lines_are_errors);
	RUN(single_keys_twice_are_errors);
	RUN(too_many_insecure);
	return DONE();
}
