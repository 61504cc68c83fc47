// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Platforms (os/architecture/variant) and their matching rules, as in
 * image-spec image-index.md and containerd's normalisation: x86_64 is amd64,
 * aarch64 is arm64 with variant v8 by default, arm is arm/v7 by default.
 */
#include <sys/utsname.h>

#include "internal.h"

static void copy_field(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void lfs_platform_normalize(struct lfs_platform *p)
{
	char *c;

	for (c = p->os; *c; c++)
		*c = (*c >= 'A' && *c <= 'Z') ? *c + 32 : *c;
	for (c = p->arch; *c; c++)
		*c = (*c >= 'A' && *c <= 'Z') ? *c + 32 : *c;
	if (!strcmp(p->arch, "x86_64") || !strcmp(p->arch, "x86-64"))
		strcpy(p->arch, "amd64");
	else if (!strcmp(p->arch, "aarch64"))
		strcpy(p->arch, "arm64");
	else if (!strcmp(p->arch, "i386") || !strcmp(p->arch, "i686"))
		strcpy(p->arch, "386");
	else if (!strncmp(p->arch, "armv", 4) || !strcmp(p->arch, "armhf") ||
		 !strcmp(p->arch, "armel")) {
		if (!strncmp(p->arch, "armv", 4) && !p->variant[0])
			snprintf(p->variant, sizeof(p->variant), "v%c", p->arch[4]);
		strcpy(p->arch, "arm");
	}
	if (!strcmp(p->arch, "arm64") && !p->variant[0])
		strcpy(p->variant, "v8");
	if (!strcmp(p->arch, "arm") && !p->variant[0])
		strcpy(p->variant, "v7");
	if (!strcmp(p->arch, "amd64") && !strcmp(p->variant, "v1"))
		p->variant[0] = '\0';
}

int lfs_platform_parse(const char *s, struct lfs_platform *p, struct lfs_error *err)
{
	const char *a, *v;

	memset(p, 0, sizeof(*p));
	a = s ? strchr(s, '/') : NULL;
	if (!a || a == s || !a[1])
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "platform \"%.80s\": want OS/ARCH[/VARIANT]", s ? s : "");
	v = strchr(a + 1, '/');
	if (v && (!v[1] || strchr(v + 1, '/')))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "platform \"%.80s\": want OS/ARCH[/VARIANT]", s);
	if ((size_t)(a - s) >= sizeof(p->os) ||
	    (size_t)((v ? v : a + strlen(a)) - a - 1) >= sizeof(p->arch) ||
	    (v && strlen(v + 1) >= sizeof(p->variant)))
		return lfs_error_set(err, LFS_E_INVALID, 0, "platform \"%.80s\": too long", s);
	copy_field(p->os, sizeof(p->os), s, a - s);
	copy_field(p->arch, sizeof(p->arch), a + 1, (v ? v : a + strlen(a)) - a - 1);
	if (v)
		copy_field(p->variant, sizeof(p->variant), v + 1, strlen(v + 1));
	lfs_platform_normalize(p);
	return 0;
}

void lfs_platform_host(struct lfs_platform *p)
{
	struct utsname u;

	memset(p, 0, sizeof(*p));
	strcpy(p->os, "linux");
	if (uname(&u) == 0)
		copy_field(p->arch, sizeof(p->arch), u.machine, strlen(u.machine));
	else
		strcpy(p->arch, "amd64");
	lfs_platform_normalize(p);
}

bool lfs_platform_match(const struct lfs_platform *want, const struct lfs_platform *have)
{
	struct lfs_platform h = *have;

	lfs_platform_normalize(&h);
	if (strcmp(want->os, h.os) || strcmp(want->arch, h.arch))
		return false;
	/* An entry without a variant serves any variant of its architecture. */
	return !h.variant[0] || !want->variant[0] || !strcmp(want->variant, h.variant);
}

void lfs_platform_format(const struct lfs_platform *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}
