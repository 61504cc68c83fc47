// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Docker credential helpers: "docker-credential-NAME get" found on $PATH and
 * run without a shell, the server name on its stdin, and on its stdout
 *   {"ServerURL": "...", "Username": "...", "Secret": "..."}
 * where the Username "<token>" means Secret is an identity token (an OAuth2
 * refresh token).  A helper that exits non-zero printing "credentials not
 * found in native keychain" has nothing for that server, which is not an
 * error.  The helper gets a time limit (then SIGKILL), its output is capped,
 * and every failure is one line naming the helper and the server.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "internal.h"

#define HELPER_OUT_MAX (64u << 10)
#define HELPER_ERR_MAX 1024u
#define NOT_FOUND_MSG "credentials not found in native keychain"

extern char **environ;

void lfs_credentials_free(struct lfs_credentials *c)
{
	if (c->pass)
		memset(c->pass, 0, strlen(c->pass));
	if (c->identity_token)
		memset(c->identity_token, 0, strlen(c->identity_token));
	free(c->user);
	free(c->pass);
	free(c->identity_token);
	c->user = c->pass = c->identity_token = NULL;
}

static bool helper_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a helper's message, printable and short, for an error. */
static void first_line(const struct lfs_buf *b, char *out, size_t len)
{
	size_t i, n = 0;

	for (i = 0; b->data && i < b->len && n + 1 < len; i++) {
		unsigned char ch = (unsigned char)b->data[i];

		if (ch == '\n' && n)
			break;
		if (ch == '\n' || ch == '\r')
			continue;
		out[n++] = isprint(ch) ? (char)ch : '?';
	}
	out[n] = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read what is there from *fd into b (up to max; the rest is counted in *over). */
static void drain(int *fd, struct lfs_buf *b, size_t max, bool *over)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	if (b->len + (size_t)n > max) {
		*over = true;
		n = (ssize_t)(max - b->len);
	}
	if (n > 0 && lfs_buf_append(b, chunk, (size_t)n) < 0)
		*over = true;
}

/*
 * Run the helper; on return *status is its wait status, or -1 when it was
 * killed for its time limit or its output size.
 */
static int run_helper(const char *prog, const char *server, unsigned timeout_ms,
		      struct lfs_buf *out, struct lfs_buf *errout, int *status,
		      const char *what, struct lfs_error *err)
{
	int in[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	char *const argv[] = { (char *)prog, (char *)"get", NULL };
	posix_spawn_file_actions_t fa;
	int64_t deadline = now_ms() + timeout_ms;
	bool over = false, timed_out = false;
	size_t slen = strlen(server);
	pid_t pid;
	int rc, ret = -1;

	/* the server name fits the pipe: written before the helper exists, no SIGPIPE */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "%s: pipe", what);
		goto out;
	}
	if (write(in[1], server, slen) != (ssize_t)slen) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "%s: write to pipe", what);
		goto out;
	}
	close_fd(&in[1]);
	if (posix_spawn_file_actions_init(&fa)) {
		lfs_oom(err);
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == ENOENT) {
		lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s not found in $PATH", what, prog);
		goto out;
	}
	if (rc) {
		lfs_error_set(err, LFS_E_AUTH, rc, "%s: cannot run %s", what, prog);
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);

	while ((po[0] >= 0 || pe[0] >= 0) && !over) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		int64_t left = deadline - now_ms();

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			drain(&po[0], out, HELPER_OUT_MAX, &over);
		if (p[1].revents) {
			bool ignored = false;	/* stderr past its cap is read and dropped */

			drain(&pe[0], errout, HELPER_ERR_MAX, &ignored);
		}
	}
	/* both pipes closed: the helper is exiting; wait, still within the limit */
	while (!timed_out && !over) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline)
			timed_out = true;
		else
			usleep(5000);
	}
	if (timed_out || over) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		*status = -1;
		if (timed_out)
			lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get timed out after %u ms", what, prog,
				      timeout_ms);
		else
			lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get printed more than %u bytes", what,
				      prog, HELPER_OUT_MAX);
		goto out;
	}
	ret = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&po[0]);
	close_fd(&po[1]);
	close_fd(&pe[0]);
	close_fd(&pe[1]);
	return ret;
}

int lfs_cred_helper_get(const char *name, const char *server, unsigned timeout_ms,
			struct lfs_credentials *c, struct lfs_error *err)
{
	struct lfs_buf out = { 0 }, errout = { 0 };
	char prog[96], what[400], msg[256];
	const char *user, *secret;
	json_error_t jerr;
	json_t *root = NULL;
	int status = 0, ret = -1;

	memset(c, 0, sizeof(*c));
	snprintf(what, sizeof(what), "credential helper \"%.80s\" for %.256s", name, server);
	if (!helper_name_valid(name))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "%s: not a helper name (letters, digits, \".\", \"_\", \"-\")", what);
	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	if (run_helper(prog, server, timeout_ms, &out, &errout, &status, what, err) < 0)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		/* docker-credential-helpers print their errors on stdout */
		first_line(&out, msg, sizeof(msg));
		if (WIFEXITED(status) && !strcmp(msg, NOT_FOUND_MSG)) {
			ret = 0;
			goto out;
		}
		if (!msg[0])
			first_line(&errout, msg, sizeof(msg));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !msg[0])
			/* posix_spawnp can report a failed exec as the child's exit 127 */
			lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s not found in $PATH", what, prog);
		else if (WIFEXITED(status))
			lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get failed (exit %d)%s%s", what, prog,
				      WEXITSTATUS(status), msg[0] ? ": " : "", msg);
		else
			lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get killed by signal %d", what, prog,
				      WTERMSIG(status));
		goto out;
	}
	root = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
	if (!json_is_object(root)) {
		lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get did not print a JSON object", what, prog);
		goto out;
	}
	user = json_string_value(json_object_get(root, "Username"));
	secret = json_string_value(json_object_get(root, "Secret"));
	if (!secret || !*secret) {
		lfs_error_set(err, LFS_E_AUTH, 0, "%s: %s get printed no \"Secret\"", what, prog);
		goto out;
	}
	if (user && !strcmp(user, "<token>")) {
		c->identity_token = strdup(secret);
		if (!c->identity_token)
			goto oom;
	} else {
		c->user = strdup(user ? user : "");
		c->pass = strdup(secret);
		if (!c->user || !c->pass)
			goto oom;
	}
	ret = 1;
	goto out;
oom:
	lfs_credentials_free(c);
	lfs_oom(err);
out:
	json_decref(root);	/* jansson does not scrub; the raw output is zeroed below */
	if (out.data)
		memset(out.data, 0, out.len);
	lfs_buf_free(&out);
	lfs_buf_free(&errout);
	return ret;
}
