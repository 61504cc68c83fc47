// SPDX-License-Identifier: GPL-2.0
/*
 * layerctl: pull images into the layerfs store and look after it.
 * Parses arguments, calls liblayerfs, prints.  Errors are printed once, as
 * one line, and mapped to the exit codes documented in layerctl(1).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"
#include "progress.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_NOTFOUND = 3,
	EXIT_AUTH = 4,
	EXIT_VERIFY = 5,
	EXIT_UNSAFE = 6,
	EXIT_NETWORK = 7,
	EXIT_BUSY = 8,
};

#define MAX_INSECURE 32

struct opts {
	const char *store;
	bool json, quiet;
	struct lfs_pull_opts pull;
	const char *insecure[MAX_INSECURE];
	struct lfs_mirrors mirrors;	/* --mirror, owned */
	bool platform_set;
};

static int exit_code(enum lfs_err_kind k)
{
	switch (k) {
	case LFS_OK: return EXIT_OK;
	case LFS_E_INVALID: return EXIT_USAGE;
	case LFS_E_NOTFOUND: return EXIT_NOTFOUND;
	case LFS_E_AUTH: return EXIT_AUTH;
	case LFS_E_VERIFY: return EXIT_VERIFY;
	case LFS_E_UNSAFE: return EXIT_UNSAFE;
	case LFS_E_NETWORK:
	case LFS_E_PROTOCOL: return EXIT_NETWORK;
	case LFS_E_BUSY: return EXIT_BUSY;
	default: return EXIT_FAIL;
	}
}

static int fail(const struct lfs_error *err)
{
	fprintf(stderr, "layerctl: %s\n", err->msg);
	return exit_code(err->kind);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "layerctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'layerctl --help'.\n");
	return EXIT_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: layerctl [--store DIR] [--json] COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Commands:\n"
		"  pull REF       fetch, verify, unpack and deduplicate an image\n"
		"  images         list images in the store\n"
		"  inspect REF    show one image (reference or digest prefix)\n"
		"  rm REF...      remove image references\n"
		"  gc             remove unreferenced images, layers, objects and blobs\n"
		"  df             bytes stored against bytes one copy per layer needs\n"
		"  status         layerfs mounts and the daemon's registration (needs the module)\n"
		"  mount [OPTIONS] REF DIR   mount image REF on DIR through layerd\n"
		"\n"
		"Options:\n"
		"  --store DIR              store root (default $LAYERFS_STORE or %s)\n"
		"  --json                   machine-readable output\n"
		"  -q, --quiet              no progress output\n"
		"Pull options:\n"
		"  --platform OS/ARCH[/VARIANT]   platform to select from an index (default: host)\n"
		"  --insecure-registry HOST[:PORT]  speak plain HTTP to this registry (repeatable)\n"
		"  --mirror REGISTRY=MIRROR[,MIRROR...]  try these hosts first for REGISTRY (repeatable)\n"
		"  --ca FILE                CA bundle replacing the system CAs\n"
		"  --authfile FILE          credentials in auth.json format\n"
		"  --oauth2                 OAuth2 POST to the token server with a password too\n"
		"  --helper-timeout SECONDS time limit of a credential helper (default 30)\n"
		"  --jobs N                 parallel layer downloads (default 3)\n"
		"  --keep-blobs             also keep compressed blobs in blobs/\n"
		"  --allow-devices          allow device nodes in layers\n"
		"  --max-entry-size BYTES   largest file in a layer (default 64G)\n"
		"  --max-layer-size BYTES   largest uncompressed layer (default 256G)\n"
		"  --max-entries N          most entries in a layer (default 4M)\n"
		"  --max-ratio N            largest compression ratio past 64M (default 1000)\n"
		"  --retries N              retries per request (default 4)\n"
		"  --retry-delay MS         first backoff (default 500, doubles)\n"
		"  --retry-max MS           longest backoff or Retry-After (default 30000)\n"
		"  --timeout SECONDS        abort a stalled transfer (default 60)\n"
		"  --connect-timeout SECONDS (default 30)\n"
		"Mount options (after \"mount\"):\n"
		"  --upper DIR --work DIR   writable mount: upper and work directories\n"
		"  --pull missing|never|always  what layerd may fetch (default missing)\n"
		"  --timeout SECONDS        how long the mount waits for layerd (default %u)\n"
		"  --cow-block SIZE         copy-on-write granule, 4K to 1M (writable mounts)\n",
		LFS_STORE_DEFAULT, LAYERFS_RESOLVE_TIMEOUT_DEFAULT);
}

static int parse_u64(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (*end || (shift && v > (~0ull >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

enum {
	OPT_STORE = 256, OPT_JSON, OPT_PLATFORM, OPT_INSECURE, OPT_CA, OPT_AUTHFILE, OPT_JOBS,
	OPT_KEEP_BLOBS, OPT_ALLOW_DEVICES, OPT_MAX_ENTRY, OPT_MAX_LAYER, OPT_MAX_ENTRIES,
	OPT_MAX_RATIO, OPT_RETRIES, OPT_RETRY_DELAY, OPT_RETRY_MAX, OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_VERSION, OPT_OAUTH2, OPT_HELPER_TIMEOUT, OPT_MIRROR,
};

static const struct option long_opts[] = {
	{ "store", required_argument, NULL, OPT_STORE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "platform", required_argument, NULL, OPT_PLATFORM },
	{ "insecure-registry", required_argument, NULL, OPT_INSECURE },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "authfile", required_argument, NULL, OPT_AUTHFILE },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "keep-blobs", no_argument, NULL, OPT_KEEP_BLOBS },
	{ "allow-devices", no_argument, NULL, OPT_ALLOW_DEVICES },
	{ "max-entry-size", required_argument, NULL, OPT_MAX_ENTRY },
	{ "max-layer-size", required_argument, NULL, OPT_MAX_LAYER },
	{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
	{ "max-ratio", required_argument, NULL, OPT_MAX_RATIO },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "retry-delay", required_argument, NULL, OPT_RETRY_DELAY },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "oauth2", no_argument, NULL, OPT_OAUTH2 },
	{ "helper-timeout", required_argument, NULL, OPT_HELPER_TIMEOUT },
	{ "mirror", required_argument, NULL, OPT_MIRROR },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to go on, or an exit code. */
static int parse_opts(int argc, char **argv, struct opts *o, bool stop_at_command)
{
	struct lfs_registry_opts *r = &o->pull.registry;
	struct lfs_limits *l = &o->pull.limits;
	struct lfs_error err = { 0 };
	unsigned long long v = 0;
	int c;

	optind = 0;	/* 0: full reinitialisation of GNU getopt between the two passes */
	while ((c = getopt_long(argc, argv, stop_at_command ? "+qh" : "qh", long_opts, NULL)) != -1) {
		bool num = c >= OPT_JOBS && c != OPT_KEEP_BLOBS && c != OPT_ALLOW_DEVICES &&
			   c != OPT_VERSION && c != OPT_OAUTH2 && c != OPT_MIRROR;

		if (num && parse_u64(optarg, &v) < 0)
			return usage_error("invalid number \"%s\"", optarg);
		switch (c) {
		case OPT_STORE: o->store = optarg; break;
		case OPT_JSON: o->json = true; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case OPT_VERSION: printf("layerctl 0.1\n"); return EXIT_OK;
		case OPT_PLATFORM:
			if (lfs_platform_parse(optarg, &o->pull.platform, &err) < 0)
				return fail(&err);
			o->platform_set = true;
			break;
		case OPT_INSECURE:
			if (r->n_insecure >= MAX_INSECURE)
				return usage_error("too many --insecure-registry options");
			o->insecure[r->n_insecure++] = optarg;
			break;
		case OPT_MIRROR:
			if (lfs_mirrors_add(&o->mirrors, optarg, &err) < 0)
				return usage_error("--mirror: %s", err.msg);
			break;
		case OPT_CA: r->ca_file = optarg; break;
		case OPT_AUTHFILE: r->auth_file = optarg; break;
		case OPT_JOBS:
			if (v < 1 || v > 64)
				return usage_error("--jobs wants 1 to 64, not \"%s\"", optarg);
			o->pull.jobs = (unsigned)v;
			break;
		case OPT_KEEP_BLOBS: o->pull.keep_blobs = true; break;
		case OPT_ALLOW_DEVICES: l->allow_devices = true; break;
		case OPT_MAX_ENTRY: l->max_entry_size = v; break;
		case OPT_MAX_LAYER: l->max_layer_size = v; break;
		case OPT_MAX_ENTRIES: l->max_entries = v; break;
		case OPT_MAX_RATIO:
			l->max_ratio = v ? v : 1;
			break;
		case OPT_RETRIES: r->retries = (unsigned)(v > 100 ? 100 : v); break;
		case OPT_RETRY_DELAY: r->retry_delay_ms = (unsigned)(v > 600000 ? 600000 : v); break;
		case OPT_RETRY_MAX: r->retry_max_ms = (unsigned)(v > 3600000 ? 3600000 : v); break;
		case OPT_TIMEOUT: r->stall_timeout_s = (unsigned)(v ? (v > 86400 ? 86400 : v) : 1); break;
		case OPT_CONNECT_TIMEOUT:
			r->connect_timeout_s = (unsigned)(v ? (v > 3600 ? 3600 : v) : 1);
			break;
		case OPT_OAUTH2: r->oauth2 = true; break;
		case OPT_HELPER_TIMEOUT:
			r->helper_timeout_ms = (unsigned)(v ? (v > 3600 ? 3600 : v) : 1) * 1000u;
			break;
		default:
			return usage_error("unknown option");
		}
	}
	r->insecure = o->insecure;
	r->mirrors = &o->mirrors;
	return -1;
}

static int print_json(json_t *j)
{
	if (!j) {
		fprintf(stderr, "layerctl: out of memory\n");
		return EXIT_FAIL;
	}
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return EXIT_OK;
}

static json_t *image_json(const struct lfs_image *img, const struct lfs_usage *u)
{
	char plat[100];
	json_t *layers = json_array(), *j;
	size_t i;

	lfs_platform_format(&img->platform, plat, sizeof(plat));
	for (i = 0; i < img->n_layers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:I, s:s}",
			"digest", img->layers[i].digest, "diff_id", img->layers[i].diff_id,
			"media_type", img->layers[i].media_type, "size", (json_int_t)img->layers[i].size,
			"path", img->layers[i].path));
	j = json_pack("{s:s?, s:s, s:s?, s:s, s:s, s:s?, s:I, s:o}",
		      "ref", img->ref, "digest", img->digest,
		      "index_digest", img->index_digest[0] ? img->index_digest : NULL,
		      "config_digest", img->config_digest, "platform", plat,
		      "created", img->created, "compressed_size", (json_int_t)img->compressed_size,
		      "layers", layers);
	if (j && u) {
		json_object_set_new(j, "files", json_integer((json_int_t)u->files));
		json_object_set_new(j, "unpacked_bytes", json_integer((json_int_t)u->logical_bytes));
		json_object_set_new(j, "stored_bytes", json_integer((json_int_t)u->stored_bytes));
	}
	return j;
}

static void print_image(const struct lfs_image *img)
{
	char plat[100], b[32];
	size_t i;

	lfs_platform_format(&img->platform, plat, sizeof(plat));
	format_bytes((unsigned long long)img->compressed_size, b, sizeof(b));
	printf("Reference: %s\n", img->ref ? img->ref : "<none>");
	printf("Digest:    %s\n", img->digest);
	if (img->index_digest[0])
		printf("Index:     %s\n", img->index_digest);
	printf("Config:    %s\n", img->config_digest);
	printf("Platform:  %s\n", plat);
	if (img->created)
		printf("Created:   %s\n", img->created);
	printf("Size:      %s compressed, %zu layers\n", b, img->n_layers);
	for (i = 0; i < img->n_layers; i++) {
		format_bytes((unsigned long long)img->layers[i].size, b, sizeof(b));
		printf("  %zu: %s (%s)\n     diff_id %s\n     %s\n", i + 1, img->layers[i].digest, b,
		       img->layers[i].diff_id, img->layers[i].path);
	}
}

static int cmd_pull(struct lfs_store *s, struct opts *o, int argc, char **argv)
{
	struct lfs_pull_result r;
	struct lfs_error err = { 0 };
	struct progress *prog = NULL;
	size_t i;
	int ret;

	if (argc != 1)
		return usage_error("pull wants one image reference");
	if (!o->quiet) {
		prog = progress_new(stderr, isatty(STDERR_FILENO) && getenv("TERM") &&
				    strcmp(getenv("TERM"), "dumb"));
		o->pull.progress = progress_event;
		o->pull.progress_ctx = prog;
	}
	ret = lfs_pull(s, argv[0], &o->pull, &r, &err);
	progress_finish(prog);
	progress_free(prog);
	if (ret < 0)
		return fail(&err);
	for (i = 0; r.warnings && r.warnings[i]; i++)
		fprintf(stderr, "layerctl: warning from registry: %s\n", r.warnings[i]);
	if (r.ratelimit_remaining[0] && !o->quiet)
		fprintf(stderr, "layerctl: registry rate limit remaining: %s\n", r.ratelimit_remaining);
	if (o->json) {
		json_t *j = image_json(&r.image, NULL);

		if (j) {
			json_object_set_new(j, "layers_fetched", json_integer((json_int_t)r.layers_fetched));
			json_object_set_new(j, "layers_reused", json_integer((json_int_t)r.layers_reused));
			json_object_set_new(j, "bytes_fetched", json_integer((json_int_t)r.bytes_fetched));
			json_object_set_new(j, "source", json_string(r.source));
			json_object_set_new(j, "from_mirror", json_boolean(r.from_mirror));
			json_object_set_new(j, "warnings", json_array());
			for (i = 0; r.warnings && r.warnings[i]; i++)
				json_array_append_new(json_object_get(j, "warnings"), json_string(r.warnings[i]));
			if (r.ratelimit_remaining[0])
				json_object_set_new(j, "ratelimit_remaining", json_string(r.ratelimit_remaining));
		}
		ret = print_json(j);
	} else {
		char b[32];

		format_bytes(r.bytes_fetched, b, sizeof(b));
		printf("%s: %s (%zu layers: %zu fetched, %zu already present, %s downloaded)%s%s\n",
		       r.image.ref, r.image.digest, r.image.n_layers, r.layers_fetched, r.layers_reused, b,
		       r.from_mirror ? " via mirror " : "", r.from_mirror ? r.source : "");
		ret = EXIT_OK;
	}
	lfs_pull_result_free(&r);
	return ret;
}

static int cmd_images(struct lfs_store *s, struct opts *o, int argc)
{
	struct lfs_image_list l;
	struct lfs_error err = { 0 };
	json_t *arr = NULL;
	size_t i;

	if (argc)
		return usage_error("images takes no arguments");
	if (lfs_store_images(s, &l, &err) < 0)
		return fail(&err);
	if (o->json)
		arr = json_array();
	else
		printf("%-50s %-19s %-14s %6s %10s %10s %10s\n", "REFERENCE", "DIGEST", "PLATFORM",
		       "LAYERS", "COMPRESSED", "UNPACKED", "STORED");
	for (i = 0; i < l.n; i++) {
		struct lfs_usage u;
		char plat[100], c[32], un[32], st[32];

		if (lfs_store_image_usage(s, &l.v[i], &u, &err) < 0) {
			lfs_image_list_free(&l);
			json_decref(arr);
			return fail(&err);
		}
		if (o->json) {
			json_array_append_new(arr, image_json(&l.v[i], &u));
			continue;
		}
		lfs_platform_format(&l.v[i].platform, plat, sizeof(plat));
		format_bytes((unsigned long long)l.v[i].compressed_size, c, sizeof(c));
		format_bytes(u.logical_bytes, un, sizeof(un));
		format_bytes(u.stored_bytes, st, sizeof(st));
		printf("%-50s %.19s %-14s %6zu %10s %10s %10s\n", l.v[i].ref, l.v[i].digest, plat,
		       l.v[i].n_layers, c, un, st);
	}
	lfs_image_list_free(&l);
	return o->json ? print_json(arr) : EXIT_OK;
}

static int cmd_inspect(struct lfs_store *s, struct opts *o, int argc, char **argv)
{
	struct lfs_image img;
	struct lfs_usage u;
	struct lfs_error err = { 0 };

	if (argc != 1)
		return usage_error("inspect wants one image reference or digest");
	if (lfs_store_lookup(s, argv[0], &img, &err) < 0)
		return fail(&err);
	if (lfs_store_image_usage(s, &img, &u, &err) < 0) {
		lfs_image_free(&img);
		return fail(&err);
	}
	if (o->json) {
		int ret = print_json(image_json(&img, &u));

		lfs_image_free(&img);
		return ret;
	}
	print_image(&img);
	lfs_image_free(&img);
	return EXIT_OK;
}

static int cmd_rm(struct lfs_store *s, struct opts *o, int argc, char **argv)
{
	struct lfs_error err = { 0 };
	json_t *removed = o->json ? json_array() : NULL;
	int i, ret = EXIT_OK;

	if (argc < 1)
		return usage_error("rm wants at least one image reference");
	for (i = 0; i < argc; i++) {
		if (lfs_store_remove(s, argv[i], &err) < 0) {
			ret = fail(&err);
			continue;
		}
		if (o->json)
			json_array_append_new(removed, json_string(argv[i]));
		else
			printf("Removed %s\n", argv[i]);
	}
	if (o->json) {
		json_t *j = json_pack("{s:o}", "removed", removed);

		print_json(j);
	}
	return ret;
}

/* Every layerfs mount; none when the module is not loaded. */
static int mounted_layers(struct lfs_mount_list *mounts, struct lfs_error *err)
{
	struct lfs_genl *g;
	int ret;

	memset(mounts, 0, sizeof(*mounts));
	if (lfs_genl_open(&g, err) < 0)
		return err->kind == LFS_E_NOTFOUND ? 0 : -1;
	ret = lfs_genl_mounts(g, mounts, err);
	lfs_genl_close(g);
	return ret;
}

static int cmd_gc(struct lfs_store *s, struct opts *o, int argc)
{
	struct lfs_gc_result r;
	struct lfs_error err = { 0 };
	char b[32];

	struct lfs_mount_list mounts = { 0 };
	const char **in_use = NULL;
	size_t n = 0, i, k;
	int ret;

	if (argc)
		return usage_error("gc takes no arguments");
	if (mounted_layers(&mounts, &err) < 0) {
		lfs_error_prefix(&err, "gc removes nothing: cannot tell which layers are mounted");
		return fail(&err);
	}
	for (i = 0; i < mounts.n; i++)
		n += mounts.v[i].n_layers;
	in_use = calloc(n + 1, sizeof(*in_use));
	if (!in_use) {
		lfs_mount_list_free(&mounts);
		fprintf(stderr, "layerctl: out of memory\n");
		return EXIT_FAIL;
	}
	for (i = 0, n = 0; i < mounts.n; i++)
		for (k = 0; k < mounts.v[i].n_layers; k++)
			in_use[n++] = mounts.v[i].layers[k];
	ret = lfs_store_gc(s, in_use, n, &r, &err);
	free(in_use);
	lfs_mount_list_free(&mounts);
	if (ret < 0)
		return fail(&err);
	if (o->json)
		return print_json(json_pack("{s:I, s:I, s:I, s:I, s:I}", "images", (json_int_t)r.images,
					    "layers", (json_int_t)r.layers, "objects", (json_int_t)r.objects,
					    "blobs", (json_int_t)r.blobs, "bytes_freed", (json_int_t)r.bytes));
	format_bytes(r.bytes, b, sizeof(b));
	printf("Removed %llu images, %llu layers, %llu objects, %llu blobs; freed %s\n",
	       (unsigned long long)r.images, (unsigned long long)r.layers,
	       (unsigned long long)r.objects, (unsigned long long)r.blobs, b);
	return EXIT_OK;
}

static int cmd_df(struct lfs_store *s, struct opts *o, int argc)
{
	struct lfs_usage u;
	struct lfs_error err = { 0 };
	char lb[32], sb[32], bb[32], saved[32];

	if (argc)
		return usage_error("df takes no arguments");
	if (lfs_store_usage(s, &u, &err) < 0)
		return fail(&err);
	if (o->json)
		return print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"store", lfs_store_root(s), "layers", (json_int_t)u.layers,
			"files", (json_int_t)u.files, "logical_bytes", (json_int_t)u.logical_bytes,
			"stored_bytes", (json_int_t)u.stored_bytes, "objects", (json_int_t)u.objects,
			"blob_bytes", (json_int_t)u.blob_bytes));
	format_bytes(u.logical_bytes, lb, sizeof(lb));
	format_bytes(u.stored_bytes, sb, sizeof(sb));
	format_bytes(u.blob_bytes, bb, sizeof(bb));
	format_bytes(u.logical_bytes - u.stored_bytes, saved, sizeof(saved));
	printf("Store:    %s\n", lfs_store_root(s));
	printf("Layers:   %llu (%llu files)\n", (unsigned long long)u.layers, (unsigned long long)u.files);
	printf("Per-layer copies would need: %s\n", lb);
	printf("Stored (deduplicated):       %s (%s saved, %.1f%%)\n", sb, saved,
	       u.logical_bytes ? 100.0 * (double)u.stored_bytes / (double)u.logical_bytes : 100.0);
	printf("Objects:  %llu\n", (unsigned long long)u.objects);
	printf("Blobs:    %s\n", bb);
	return EXIT_OK;
}

static void format_dev(uint32_t dev, char *buf, size_t len)
{
	/* the kernel's new_encode_dev */
	snprintf(buf, len, "%u:%u", (dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
}

static json_t *mount_json(const struct lfs_mount *m)
{
	json_t *layers = json_array();
	char dev[32];
	size_t i;

	format_dev(m->dev, dev, sizeof(dev));
	for (i = 0; i < m->n_layers; i++)
		json_array_append_new(layers, json_string(m->layers[i]));
	return json_pack("{s:I, s:s, s:s?, s:s?, s:o, s:s?, s:s?, s:{s:I, s:I, s:I, s:I, s:I}}",
			 "id", (json_int_t)m->id, "dev", dev, "image", m->image_ref,
			 "digest", m->image_digest, "layers", layers, "upperdir", m->upperdir,
			 "workdir", m->workdir, "cow", "block", (json_int_t)m->cow_block,
			 "files", (json_int_t)m->cow_files, "granules", (json_int_t)m->cow_granules,
			 "bytes", (json_int_t)m->cow_bytes, "whole_file_bytes",
			 (json_int_t)m->cow_whole_bytes);
}

static void print_mount(const struct lfs_mount *m)
{
	char dev[32], blk[32], b[32], w[32];
	size_t i;

	format_dev(m->dev, dev, sizeof(dev));
	printf("\nMount %llu (device %s)\n", (unsigned long long)m->id, dev);
	if (m->image_ref)
		printf("  Image:   %s\n  Digest:  %s\n", m->image_ref,
		       m->image_digest ? m->image_digest : "-");
	printf("  Layers:  %zu, top first\n", m->n_layers);
	for (i = 0; i < m->n_layers; i++)
		printf("    %s\n", m->layers[i]);
	if (!m->upperdir) {
		printf("  Upper:   none (read-only)\n");
		return;
	}
	format_bytes(m->cow_block, blk, sizeof(blk));
	format_bytes(m->cow_bytes, b, sizeof(b));
	format_bytes(m->cow_whole_bytes, w, sizeof(w));
	printf("  Upper:   %s\n  Work:    %s\n", m->upperdir, m->workdir ? m->workdir : "-");
	printf("  CoW:     %llu files, %llu granules of %s: %s copied (whole files: %s)\n",
	       (unsigned long long)m->cow_files, (unsigned long long)m->cow_granules, blk, b, w);
}

static int cmd_status(int argc, char **argv, bool json)
{
	struct lfs_genl_status st;
	struct lfs_mount_list ml;
	struct lfs_error err = { 0 };
	struct lfs_genl *g;
	size_t i;
	int ret = EXIT_OK;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json"))
			return usage_error("status takes no arguments but --json");
		json = true;
	}
	if (lfs_genl_open(&g, &err) < 0)
		return fail(&err);
	if (lfs_genl_status(g, &st, &err) < 0 || lfs_genl_mounts(g, &ml, &err) < 0) {
		lfs_genl_close(g);
		return fail(&err);
	}
	lfs_genl_close(g);
	if (json) {
		json_t *mounts = json_array();

		for (i = 0; i < ml.n; i++)
			json_array_append_new(mounts, mount_json(&ml.v[i]));
		ret = print_json(json_pack("{s:{s:b, s:I, s:I, s:I, s:I}, s:o}", "daemon",
					   "registered", st.daemon_pid != 0, "pid", (json_int_t)st.daemon_pid,
					   "pending", (json_int_t)st.pending,
					   "requests", (json_int_t)st.requests,
					   "rejected", (json_int_t)st.rejected, "mounts", mounts));
	} else {
		if (st.daemon_pid)
			printf("Daemon:  registered, pid %u\n", st.daemon_pid);
		else
			printf("Daemon:  none registered (image= mounts fail)\n");
		printf("Requests: %u pending, %llu sent, %llu replies rejected\n", st.pending,
		       (unsigned long long)st.requests, (unsigned long long)st.rejected);
		printf("Mounts:  %zu\n", ml.n);
		for (i = 0; i < ml.n; i++)
			print_mount(&ml.v[i]);
	}
	lfs_mount_list_free(&ml);
	return ret;
}

/* Append ",KEY=VALUE" to the mount data; a ',' in VALUE would split it. */
static int add_option(char *data, size_t len, const char *key, const char *value)
{
	size_t n = strlen(data);

	if (strchr(value, ','))
		return usage_error("%s \"%s\" contains ',', which separates mount options", key, value);
	if (snprintf(data + n, len - n, "%s%s=%s", n ? "," : "", key, value) >= (int)(len - n))
		return usage_error("mount options too long");
	return -1;
}

static int cmd_mount(int argc, char **argv)
{
	static const struct option mopts[] = {
		{ "upper", required_argument, NULL, 'u' },
		{ "work", required_argument, NULL, 'w' },
		{ "pull", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cow-block", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *upper = NULL, *work = NULL, *pull = NULL, *timeout = NULL, *cow = NULL;
	char data[4096] = "";	/* mount(2) reads one page of options */
	unsigned long long v;
	struct stat st;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", mopts, NULL)) != -1) {
		switch (c) {
		case 'u': upper = optarg; break;
		case 'w': work = optarg; break;
		case 'p': pull = optarg; break;
		case 't': timeout = optarg; break;
		case 'b': cow = optarg; break;
		default: return usage_error("unknown mount option");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return usage_error("mount wants an image reference and a directory");
	if (!argv[0][0] || strlen(argv[0]) >= LAYERFS_IMAGE_REF_MAX)
		return usage_error("image reference must be 1 to %d bytes", LAYERFS_IMAGE_REF_MAX - 1);
	if (stat(argv[1], &st) < 0) {
		fprintf(stderr, "layerctl: mount point %s: %s\n", argv[1], strerror(errno));
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "layerctl: mount point %s: not a directory\n", argv[1]);
		return EXIT_FAIL;
	}
	if (!upper != !work)
		return usage_error("--upper and --work go together");
	if (cow && !upper)
		return usage_error("--cow-block is for writable mounts (--upper, --work)");
	if (pull && strcmp(pull, "missing") && strcmp(pull, "never") && strcmp(pull, "always"))
		return usage_error("--pull wants missing, never or always, not \"%s\"", pull);
	if (timeout && (parse_u64(timeout, &v) < 0 || v < 1 || v > LAYERFS_RESOLVE_TIMEOUT_MAX))
		return usage_error("--timeout wants 1 to %u seconds, not \"%s\"",
				   LAYERFS_RESOLVE_TIMEOUT_MAX, timeout);
	if ((r = add_option(data, sizeof(data), "image", argv[0])) >= 0 ||
	    (pull && (r = add_option(data, sizeof(data), "pull", pull)) >= 0) ||
	    (timeout && (r = add_option(data, sizeof(data), "resolve_timeout", timeout)) >= 0) ||
	    (upper && (r = add_option(data, sizeof(data), "upperdir", upper)) >= 0) ||
	    (work && (r = add_option(data, sizeof(data), "workdir", work)) >= 0) ||
	    (cow && (r = add_option(data, sizeof(data), "cow_block", cow)) >= 0))
		return r;
	if (mount("layerfs", argv[1], "layerfs", 0, data) < 0) {
		int e = errno;

		fprintf(stderr, "layerctl: mount %s on %s: %s%s\n", argv[0], argv[1], strerror(e),
			e == ENODEV ? " (is the layerfs module loaded?)" :
			e == EPERM ? "" : " (the kernel log says more)");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int run(int argc, char **argv, struct opts *o)
{
	struct lfs_store *s = NULL;
	struct lfs_error err = { 0 };
	const char *cmd;
	int ret;

	lfs_pull_opts_default(&o->pull);
	o->store = getenv("LAYERFS_STORE");
	ret = parse_opts(argc, argv, o, true);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	/* these two talk to the module only, with options of their own */
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1, o->json);
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc, argv);
	/* options may also follow the command */
	ret = parse_opts(argc, argv, o, false);
	if (ret >= 0)
		return ret;
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "pull") && strcmp(cmd, "images") && strcmp(cmd, "inspect") &&
	    strcmp(cmd, "rm") && strcmp(cmd, "gc") && strcmp(cmd, "df"))
		return usage_error("unknown command \"%s\"", cmd);
	if (!o->store || !*o->store)
		o->store = LFS_STORE_DEFAULT;
	if (lfs_init(&err) < 0)
		return fail(&err);
	if (lfs_store_open(o->store, &s, &err) < 0) {
		ret = fail(&err);
		goto out;
	}
	if (!strcmp(cmd, "pull"))
		ret = cmd_pull(s, o, argc, argv);
	else if (!strcmp(cmd, "images"))
		ret = cmd_images(s, o, argc);
	else if (!strcmp(cmd, "inspect"))
		ret = cmd_inspect(s, o, argc, argv);
	else if (!strcmp(cmd, "rm"))
		ret = cmd_rm(s, o, argc, argv);
	else if (!strcmp(cmd, "gc"))
		ret = cmd_gc(s, o, argc);
	else
		ret = cmd_df(s, o, argc);
	lfs_store_close(s);
out:
	lfs_cleanup();
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int ret = run(argc, argv, &o);

	lfs_mirrors_free(&o.mirrors);
	return ret;
}
