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
	layerd_config_free(&c);
}

static void unknown_key_names_file_and_line(void)
{
	expect_error("store = /a\n\nmirror = docker.io=127.0.0.1:5000\n",
		     "test.conf:3: unknown key \"mirror\"");
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
	RUN(malformed_lines_are_errors);
	RUN(single_keys_twice_are_errors);
	RUN(too_many_insecure);
	return DONE();
}
