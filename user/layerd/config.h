/* SPDX-License-Identifier: GPL-2.0 */
/* layerd's configuration file (layerd.conf(5)): "key = value" lines. */
#ifndef LAYERD_CONFIG_H
#define LAYERD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "layerfs.h"

#define LAYERD_CONFIG_DEFAULT "/etc/layerfs/layerd.conf"
#define LAYERD_PARALLELISM_DEFAULT 4
#define LAYERD_PARALLELISM_MAX 64
#define LAYERD_INSECURE_MAX 32

enum layerd_log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

struct layerd_config {
	char *store;			/* NULL: LFS_STORE_DEFAULT */
	char *auth_file;		/* NULL: the usual auth.json locations */
	char *ca_file;			/* NULL: the system CAs */
	char *insecure[LAYERD_INSECURE_MAX];
	size_t n_insecure;
	struct lfs_mirrors mirrors;	/* "mirror = REGISTRY=MIRROR[,MIRROR...]" lines */
	unsigned parallelism;
	int pull_policy;		/* enum layerfs_pull, for requests that carry none */
	enum layerd_log_level log_level;
};

void layerd_config_default(struct layerd_config *c);
void layerd_config_free(struct layerd_config *c);
/*
 * Parse @f (named @name in errors) into @c, which holds the defaults.
 * Returns 0, or -1 with "NAME:LINE: why" in @errbuf.
 */
int layerd_config_parse(FILE *f, const char *name, struct layerd_config *c, char *errbuf,
			size_t errlen);
/* Open and parse @path; a missing file is an error only when @must_exist. */
int layerd_config_load(const char *path, int must_exist, struct layerd_config *c, char *errbuf,
		       size_t errlen);

const char *layerd_pull_name(int policy);
const char *layerd_log_level_name(enum layerd_log_level l);

#endif
