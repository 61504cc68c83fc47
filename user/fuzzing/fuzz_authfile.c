// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: auth.json / config.json lookup (auths entries, base64
 * "auth", identitytoken, credHelpers, credsStore).  $PATH names an empty
 * directory, so a helper the input names is never found (and never run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

static char dir[] = "/tmp/lfs-fuzz-auth.XXXXXX";
static char path[64];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const hosts[] = { "reg.example:5000", "registry-1.docker.io" };
	struct lfs_credentials c;
	struct lfs_error err;
	FILE *f;
	size_t i;

	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/auth.json", dir);
		setenv("PATH", dir, 1);
		atexit(remove_dir);
	}
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int r = lfs_auth_lookup(path, hosts[i], 1000, &c, &err);

		if (r == 1 && !c.user && !c.identity_token)
			abort();	/* found means something to authenticate with */
		if (r != 1 && (c.user || c.pass || c.identity_token))
			abort();	/* nothing handed out on failure */
		lfs_credentials_free(&c);
	}
	return 0;
}
