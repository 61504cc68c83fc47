// SPDX-License-Identifier: GPL-2.0
/*
 * layerd: the daemon that answers the layerfs module's RESOLVE requests.
 *
 * The main thread owns the netlink socket's receiving side: it polls the
 * socket and a signalfd, and turns each RESOLVE into a waiter on a job.
 * Jobs are keyed by reference + platform + pull policy, so concurrent
 * mounts of one image share one lookup or pull (single flight).  A fixed
 * pool of workers (parallelism=) takes jobs in arrival order, resolves
 * them against the store (lfs_store_lookup, lfs_pull) and answers every
 * waiter whose mount is still waiting.
 *
 * layerd keeps no kernel state: a mount, once made, never needs it again.
 * It must never touch a layerfs mount (the module may be waiting on us
 * inside one: deadlock), which is why it refuses a store on layerfs.
 *
 * Locking: d->lock guards the job lists, the immediate-answer list and
 * d->stopping; d->sock_lock serialises every use of the libnl socket (not
 * thread-safe).  Order: sock_lock, then lock (the main thread's RESOLVE
 * handler runs inside lfs_genl_receive).  Never take sock_lock while
 * holding lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "layerfs.h"
#include "log.h"

#define EXIT_USAGE 2
/* Waiters over all jobs: beyond this a RESOLVE is refused with EAGAIN. */
#define WAITERS_MAX 4096
/* How long shutdown waits for pulls in progress before leaving them. */
#define SHUTDOWN_GRACE_S 10

struct waiter {
	uint32_t id;
	struct timespec deadline;	/* CLOCK_MONOTONIC: the mount gives up then */
	struct waiter *next;
};

struct job {
	char ref[LAYERFS_IMAGE_REF_MAX];
	char platform[LAYERFS_PLATFORM_MAX];	/* "" = host */
	int pull;
	bool running;
	struct waiter *waiters;
	struct job *next;
};

/* An answer the main thread sends itself (refusals, shutdown). */
struct immediate {
	uint32_t id;
	int status;
	const char *text;
	struct immediate *next;
};

struct daemon {
	struct layerd_config cfg;
	const char *insecure[LAYERD_INSECURE_MAX];
	struct lfs_genl *g;
	pthread_mutex_t sock_lock;

	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued, or stopping */
	pthread_cond_t idle;		/* a worker finished a job */
	struct job *jobs;		/* queued and running, oldest first */
	struct immediate *immediate;
	size_t n_waiters;
	unsigned busy;			/* workers inside a job */
	bool stopping;
};

/* ---- time ---------------------------------------------------------------- */

static struct timespec now_plus_ms(uint32_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Milliseconds past @t (negative: still ahead). */
static long long ms_past(const struct timespec *t)
{
	struct timespec n;

	clock_gettime(CLOCK_MONOTONIC, &n);
	return (long long)(n.tv_sec - t->tv_sec) * 1000 + (n.tv_nsec - t->tv_nsec) / 1000000;
}

/* ---- answering ---------------------------------------------------------------- */

static int errno_of(const struct lfs_error *e)
{
	switch (e->kind) {
	case LFS_E_INVALID: return EINVAL;
	case LFS_E_NOTFOUND: return ENOENT;
	case LFS_E_AUTH: return EACCES;
	case LFS_E_VERIFY: return EBADMSG;
	case LFS_E_UNSAFE: return EPERM;
	case LFS_E_NETWORK: return EHOSTUNREACH;
	case LFS_E_PROTOCOL: return EPROTO;
	case LFS_E_BUSY: return EBUSY;
	default: return e->errnum > 0 ? e->errnum : EIO;
	}
}

static void send_reply(struct daemon *d, const struct lfs_resolve_reply *rep)
{
	struct lfs_error err = { 0 };
	int r;

	pthread_mutex_lock(&d->sock_lock);
	r = lfs_genl_reply(d->g, rep, &err);
	pthread_mutex_unlock(&d->sock_lock);
	if (r < 0)
		log_error(rep->id, "%s", err.msg);
	else
		log_debug(rep->id, "answered, status %d", rep->status);
}

static void send_error(struct daemon *d, uint32_t id, int status, const char *text)
{
	struct lfs_resolve_reply rep = { .id = id, .status = status, .error_text = text };

	send_reply(d, &rep);
}

/* Called with d->lock held; flush_immediate sends them. */
static void queue_immediate(struct daemon *d, uint32_t id, int status, const char *text)
{
	struct immediate *im = malloc(sizeof(*im)), **p;

	if (!im) {
		log_error(id, "out of memory: the mount will time out");
		return;
	}
	*im = (struct immediate){ .id = id, .status = status, .text = text };
	for (p = &d->immediate; *p; p = &(*p)->next)
		;
	*p = im;
}

static void flush_immediate(struct daemon *d)
{
	struct immediate *im;

	pthread_mutex_lock(&d->lock);
	im = d->immediate;
	d->immediate = NULL;
	pthread_mutex_unlock(&d->lock);
	while (im) {
		struct immediate *next = im->next;

		send_error(d, im->id, im->status, im->text);
		free(im);
		im = next;
	}
}

/* ---- the RESOLVE handler (main thread) ------------------------------------------- */

static void on_resolve(void *ctx, const struct lfs_resolve_request *req)
{
	struct daemon *d = ctx;
	int pull = req->pull >= 0 ? req->pull : d->cfg.pull_policy;
	uint32_t timeout = req->timeout_ms ? req->timeout_ms : LAYERFS_RESOLVE_TIMEOUT_DEFAULT * 1000;
	struct waiter *w;
	struct job *j, **tail;

	log_info(req->id, "resolve %s (platform %s, pull %s, %u ms)", req->ref,
		 req->platform[0] ? req->platform : "host", layerd_pull_name(pull), timeout);
	pthread_mutex_lock(&d->lock);
	if (d->stopping) {
		queue_immediate(d, req->id, ECANCELED, "layerd is shutting down");
		goto out;
	}
	if (d->n_waiters >= WAITERS_MAX) {
		log_warn(req->id, "%d requests already wait: refused", WAITERS_MAX);
		queue_immediate(d, req->id, EAGAIN, "layerd: too many requests waiting");
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		queue_immediate(d, req->id, ENOMEM, "layerd: out of memory");
		goto out;
	}
	w->id = req->id;
	w->deadline = now_plus_ms(timeout);
	for (tail = &d->jobs; (j = *tail); tail = &j->next)
		if (j->pull == pull && !strcmp(j->ref, req->ref) && !strcmp(j->platform, req->platform))
			break;
	if (j) {
		log_debug(req->id, "joins the %s %s already under way", j->running ? "job" : "queued job",
			  j->ref);
	} else {
		j = calloc(1, sizeof(*j));
		if (!j) {
			free(w);
			queue_immediate(d, req->id, ENOMEM, "layerd: out of memory");
			goto out;
		}
		memcpy(j->ref, req->ref, sizeof(j->ref));
		memcpy(j->platform, req->platform, sizeof(j->platform));
		j->pull = pull;
		*tail = j;
		pthread_cond_signal(&d->work);
	}
	w->next = j->waiters;
	j->waiters = w;
	d->n_waiters++;
out:
	pthread_mutex_unlock(&d->lock);
}

static void on_reply_error(void *ctx, uint32_t id, int errnum, const char *text)
{
	(void)ctx;
	if (text)
		log_error(0, "%s", text);
	else if (id)
		log_warn(id, "the module refused the answer: %s (the mount gave up already?)",
			 strerror(errnum));
	else
		log_warn(0, "the module refused an answer: %s", strerror(errnum));
}

/* ---- the work -------------------------------------------------------------------- */

static bool image_usable(const struct lfs_image *img, const struct lfs_platform *want)
{
	struct stat st;
	size_t i;

	if (!img->n_layers || !lfs_platform_match(want, &img->platform))
		return false;
	for (i = 0; i < img->n_layers; i++)
		if (stat(img->layers[i].path, &st) < 0 || !S_ISDIR(st.st_mode))
			return false;
	return true;
}

/* Pull events worth a log line: where the image came from, mirrors passed over. */
static void pull_event(void *ctx, const struct lfs_progress *ev)
{
	uint32_t id = *(const uint32_t *)ctx;

	if (ev->stage == LFS_STAGE_SOURCE)
		log_debug(id, "image %s from %s%s%s%s", ev->digest ? ev->digest : "?",
			  ev->source ? ev->source : "?", ev->message ? " (" : "",
			  ev->message ? ev->message : "", ev->message ? ")" : "");
	else if (ev->stage == LFS_STAGE_FALLBACK ||
		 (ev->stage == LFS_STAGE_RETRY && ev->source && ev->message))
		log_warn(id, "%s", ev->message);
}

/* The image for a job: from the store, or pulled as its policy allows. */
static int resolve_job(struct daemon *d, const struct job *j, uint32_t log_id,
		       struct lfs_image *img, struct lfs_error *err)
{
	struct lfs_pull_opts o;
	struct lfs_pull_result pr;
	struct lfs_store *s;
	int ret = -1;

	lfs_pull_opts_default(&o);
	if (j->platform[0] && lfs_platform_parse(j->platform, &o.platform, err) < 0)
		return -1;
	o.registry.insecure = d->insecure;
	o.registry.n_insecure = d->cfg.n_insecure;
	o.registry.auth_file = d->cfg.auth_file;
	o.registry.ca_file = d->cfg.ca_file;
	o.registry.mirrors = &d->cfg.mirrors;
	o.progress = pull_event;
	o.progress_ctx = &log_id;
	/* per job, so gc can take the store whenever no request is in flight */
	if (lfs_store_open(d->cfg.store ? d->cfg.store : LFS_STORE_DEFAULT, &s, err) < 0)
		return -1;
	if (j->pull != LAYERFS_PULL_ALWAYS) {
		if (lfs_store_lookup(s, j->ref, img, err) == 0) {
			if (image_usable(img, &o.platform)) {
				log_debug(log_id, "%s is in the store", j->ref);
				ret = 0;
				goto out;
			}
			lfs_image_free(img);
			lfs_error_set(err, LFS_E_NOTFOUND, 0,
				      "%s: the store has it for another platform or incomplete", j->ref);
		} else if (err->kind != LFS_E_NOTFOUND) {
			goto out;
		}
		if (j->pull == LAYERFS_PULL_NEVER) {
			lfs_error_prefix(err, "pull=never");
			goto out;
		}
	}
	log_info(log_id, "pulling %s", j->ref);
	if (lfs_pull(s, j->ref, &o, &pr, err) < 0)
		goto out;
	log_info(log_id, "pulled %s from %s%s: %zu layers fetched, %zu reused", j->ref, pr.source,
		 pr.from_mirror ? " (mirror)" : "", pr.layers_fetched, pr.layers_reused);
	*img = pr.image;
	memset(&pr.image, 0, sizeof(pr.image));
	lfs_pull_result_free(&pr);
	ret = 0;
out:
	lfs_store_close(s);
	return ret;
}

/* Answer every waiter the mount of which still waits. */
static void answer(struct daemon *d, struct waiter *w, const struct lfs_image *img,
		   const struct lfs_error *err)
{
	struct lfs_error oom = { .kind = LFS_E_SYSTEM, .errnum = ENOMEM, .msg = "layerd: out of memory" };
	const char **layers = NULL;
	size_t i, n = img ? img->n_layers : 0;

	if (img) {
		layers = calloc(n + 1, sizeof(*layers));
		if (!layers) {
			img = NULL;
			err = &oom;
		}
		/* the store lists layers base first (OCI order); the module wants the top first */
		for (i = 0; layers && i < n; i++)
			layers[i] = img->layers[n - 1 - i].path;
	}
	while (w) {
		struct waiter *next = w->next;
		long long late = ms_past(&w->deadline);

		if (late > 0) {
			log_warn(w->id, "the mount gave up %lld ms ago: not answering", late);
		} else if (img) {
			struct lfs_resolve_reply rep = { .id = w->id, .digest = img->digest,
							 .layers = layers, .n_layers = n };

			log_info(w->id, "%s is %s (%zu layers)", img->ref ? img->ref : "image", img->digest, n);
			send_reply(d, &rep);
		} else {
			log_error(w->id, "%s", err->msg);
			send_error(d, w->id, errno_of(err), err->msg);
		}
		free(w);
		w = next;
	}
	free(layers);
}

static bool all_expired(const struct waiter *w)
{
	for (; w; w = w->next)
		if (ms_past(&w->deadline) <= 0)
			return false;
	return true;
}

static void *worker(void *arg)
{
	struct daemon *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct job *j, **p;
		struct waiter *w;
		struct lfs_image img = { 0 };
		struct lfs_error err = { 0 };
		bool ok = false;

		for (j = d->jobs; j && j->running; j = j->next)
			;
		if (!j) {
			if (d->stopping)
				break;
			pthread_cond_wait(&d->work, &d->lock);
			continue;
		}
		j->running = true;
		d->busy++;
		/* nobody left to answer: do not start a pull for nothing */
		if (!all_expired(j->waiters)) {
			uint32_t log_id = j->waiters->id;

			pthread_mutex_unlock(&d->lock);
			ok = resolve_job(d, j, log_id, &img, &err) == 0;
			pthread_mutex_lock(&d->lock);
		}
		/* waiters that joined meanwhile get this answer too */
		w = j->waiters;
		for (p = &d->jobs; *p != j; p = &(*p)->next)
			;
		*p = j->next;
		for (struct waiter *x = w; x; x = x->next)
			d->n_waiters--;
		free(j);
		pthread_mutex_unlock(&d->lock);
		answer(d, w, ok ? &img : NULL, &err);
		lfs_image_free(&img);
		pthread_mutex_lock(&d->lock);
		d->busy--;
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- shutdown --------------------------------------------------------------------- */

/* Take every waiter off every job, queued or running: all get ECANCELED. */
static void cancel_all(struct daemon *d)
{
	struct job *j, **p;

	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	for (p = &d->jobs; (j = *p);) {
		while (j->waiters) {
			struct waiter *w = j->waiters;

			j->waiters = w->next;
			queue_immediate(d, w->id, ECANCELED, "layerd is shutting down");
			d->n_waiters--;
			free(w);
		}
		if (j->running) {	/* its worker removes it */
			p = &j->next;
		} else {
			*p = j->next;
			free(j);
		}
	}
	pthread_cond_broadcast(&d->work);
	pthread_mutex_unlock(&d->lock);
	flush_immediate(d);
}

/* Wait a little for the workers; true when all are idle. */
static bool wait_workers(struct daemon *d)
{
	struct timespec t;
	bool idle;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += SHUTDOWN_GRACE_S;
	pthread_mutex_lock(&d->lock);
	while (d->busy && pthread_cond_timedwait(&d->idle, &d->lock, &t) == 0)
		;
	idle = !d->busy;
	pthread_mutex_unlock(&d->lock);
	return idle;
}

/* ---- main loop --------------------------------------------------------------------- */

static int run(struct daemon *d, int sfd)
{
	struct pollfd pfd[2] = {
		{ .fd = lfs_genl_fd(d->g), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
	};
	struct lfs_error err = { 0 };

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error(0, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info(0, "%s: shutting down", strsignal((int)si.ssi_signo));
			return 0;
		}
		if (pfd[0].revents) {
			int r;

			pthread_mutex_lock(&d->sock_lock);
			r = lfs_genl_receive(d->g, &err);
			pthread_mutex_unlock(&d->sock_lock);
			if (r < 0)
				log_error(0, "%s", err.msg);	/* lost requests time out in the module */
			flush_immediate(d);
		}
	}
}

static int register_daemon(struct daemon *d)
{
	struct lfs_genl_status st;
	struct lfs_error err = { 0 }, e2 = { 0 };

	if (lfs_genl_register(d->g, &err) == 0) {
		log_info(0, "registered");
		return 0;
	}
	if (err.kind == LFS_E_BUSY && lfs_genl_status(d->g, &st, &e2) == 0 && st.daemon_pid)
		log_error(0, "another daemon (pid %u) is registered with the layerfs module",
			  st.daemon_pid);
	else
		log_error(0, "%s", err.msg);
	return -1;
}

static int check_store(const char *path)
{
	struct statfs sf;

	/* the store does not exist yet: lfs_store_open makes it on a real fs */
	if (statfs(path, &sf) == 0 && sf.f_type == LAYERFS_SUPER_MAGIC) {
		log_error(0, "store %s is on a layerfs mount: layerd must never use one", path);
		return -1;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: layerd [--foreground] [--config FILE]\n"
		"Answer the layerfs module's image=REF mount requests from the layer store.\n"
		"\n"
		"  -f, --foreground   stay in the foreground (systemd); default: detach once registered\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -h, --help         this text\n"
		"      --version      the version\n",
		LAYERD_CONFIG_DEFAULT);
}

/* Fork; the parent exits once the child says whether it registered. */
static int detach(int *notify_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	*notify_fd = p[1];
	return 0;
}

static void notify(int *fd, char status)
{
	if (*fd < 0)
		return;
	if (write(*fd, &status, 1) != 1)
		log_warn(0, "cannot tell the parent process: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { 0 };
	const char *config = LAYERD_CONFIG_DEFAULT;
	bool foreground = false, config_given = false, clean = true;
	struct lfs_error err = { 0 };
	pthread_t *workers = NULL;
	unsigned i, started = 0;
	int c, sfd = -1, notify_fd = -1, ret = 1;
	char ebuf[512];
	sigset_t sigs;

	while ((c = getopt_long(argc, argv, "fc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'c': config = optarg; config_given = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("layerd 0.1\n"); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "layerd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	layerd_config_default(&d.cfg);
	if (layerd_config_load(config, config_given, &d.cfg, ebuf, sizeof(ebuf)) < 0) {
		fprintf(stderr, "layerd: %s\n", ebuf);
		layerd_config_free(&d.cfg);
		return EXIT_USAGE;
	}
	log_init(d.cfg.log_level);
	for (i = 0; i < d.cfg.n_insecure; i++)
		d.insecure[i] = d.cfg.insecure[i];
	if (check_store(d.cfg.store ? d.cfg.store : LFS_STORE_DEFAULT) < 0)
		goto out_config;
	if (!foreground && detach(&notify_fd) < 0) {
		log_error(0, "detach: %s", strerror(errno));
		goto out_config;
	}

	/* every thread inherits the mask; only the signalfd sees these */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		log_error(0, "signalfd: %s", strerror(errno));
		goto out_config;
	}
	if (lfs_init(&err) < 0) {
		log_error(0, "%s", err.msg);
		goto out_sfd;
	}
	pthread_mutex_init(&d.sock_lock, NULL);
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.work, NULL);
	pthread_cond_init(&d.idle, NULL);
	if (lfs_genl_open(&d.g, &err) < 0) {
		log_error(0, "%s", err.msg);
		goto out_lib;
	}
	lfs_genl_set_handlers(d.g, on_resolve, on_reply_error, &d);

	workers = calloc(d.cfg.parallelism, sizeof(*workers));
	if (!workers) {
		log_error(0, "out of memory");
		goto out_genl;
	}
	for (started = 0; started < d.cfg.parallelism; started++)
		if ((errno = pthread_create(&workers[started], NULL, worker, &d))) {
			log_error(0, "start worker: %s", strerror(errno));
			goto out_workers;
		}
	if (register_daemon(&d) < 0)
		goto out_workers;
	log_debug(0, "store %s, %u workers, default pull %s",
		  d.cfg.store ? d.cfg.store : LFS_STORE_DEFAULT, d.cfg.parallelism,
		  layerd_pull_name(d.cfg.pull_policy));
	for (i = 0; i < d.cfg.mirrors.n; i++) {
		const struct lfs_mirror *mi = &d.cfg.mirrors.v[i];
		char list[1024] = "";
		size_t k;

		for (k = 0; k < mi->n_hosts; k++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "",
				 mi->hosts[k]);
		log_debug(0, "mirrors of %s: %s", mi->registry, list);
	}
	notify(&notify_fd, 0);
	ret = run(&d, sfd) < 0 ? 1 : 0;

	/* stop taking requests; everyone still waiting gets ECANCELED */
	cancel_all(&d);
	pthread_mutex_lock(&d.sock_lock);
	if (lfs_genl_unregister(d.g, &err) < 0)
		log_warn(0, "%s", err.msg);
	pthread_mutex_unlock(&d.sock_lock);
	flush_immediate(&d);	/* RESOLVEs that came in before UNREGISTER */
	log_info(0, "unregistered");
out_workers:
	cancel_all(&d);
	if (!wait_workers(&d)) {
		/* a pull cannot be interrupted; its tmp/ work is cleaned at the next start */
		log_warn(0, "leaving pulls in progress after %d s", SHUTDOWN_GRACE_S);
		clean = false;
	}
	for (i = 0; clean && i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);
out_genl:
	if (!clean) {
		pthread_mutex_lock(&d.sock_lock);	/* no worker answers on a freed socket */
		fflush(stderr);
		_exit(ret);
	}
	lfs_genl_close(d.g);
out_lib:
	lfs_cleanup();
out_sfd:
	close(sfd);
out_config:
	notify(&notify_fd, (char)(ret ? ret : 1));
	layerd_config_free(&d.cfg);
	return ret;
}
