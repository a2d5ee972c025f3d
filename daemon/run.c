/*
 * run.c — `pacewatch run`: the daemon. One thread runs the event loop: the
 * collector's scrapes (libcurl multi), the decider's rule and KPI
 * evaluations, the notifier's routing, hourly retention, and signals:
 * SIGTERM/SIGINT finish the scrapes in flight and exit 0; SIGHUP (or POST
 * /-/reload) reloads the configuration, and a bad new one is logged with
 * its errors while the old one keeps running. The HTTP server, the
 * notifier's delivery threads and remote_write run on threads of their own
 * and see the decider only through the views it publishes.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "notify.h"
#include "collector.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "exporters.h"
#include "remote_write.h"
#include "store.h"

#include <pthread.h>

/* Set by the signal handler, which may run on any thread (libmicrohttpd's,
 * libcurl's, the outbox's), and by http_reload on an HTTP thread; read by
 * the loop. Atomic (lock-free, so usable in a handler): a plain volatile
 * is a data race between threads. */
static volatile sig_atomic_t got_stop, got_hup;

/* POST /-/reload: the HTTP thread asks, the loop reloads and answers. */
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rl_cond = PTHREAD_COND_INITIALIZER;
static bool rl_asked;
static unsigned rl_done_seq;
static int rl_rc;
static char *rl_cause;
static bool rl_stopping;

static int http_reload(void *ctx, char **cause)
{
	unsigned seq;
	int rc;
	(void)ctx;
	pthread_mutex_lock(&rl_lock);
	if (rl_stopping) {
		pthread_mutex_unlock(&rl_lock);
		*cause = xstrdup("pacewatch is stopping\n");
		return PW_EINVAL;
	}
	seq = rl_done_seq;
	rl_asked = true;
	__atomic_store_n(&got_hup, 1, __ATOMIC_SEQ_CST);
	while (rl_done_seq == seq)
		pthread_cond_wait(&rl_cond, &rl_lock);
	rc = rl_rc;
	if (rl_cause)
		*cause = xstrdup(rl_cause);
	pthread_mutex_unlock(&rl_lock);
	return rc;
}

static void reload_answer(int rc, const char *cause)
{
	pthread_mutex_lock(&rl_lock);
	if (rl_asked) {
		rl_rc = rc;
		free(rl_cause);
		rl_cause = cause ? xasprintf("%s\n", cause) : NULL;
		rl_asked = false;
		rl_done_seq++;
		pthread_cond_broadcast(&rl_cond);
	}
	pthread_mutex_unlock(&rl_lock);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		__atomic_store_n(&got_hup, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&got_stop, 1, __ATOMIC_SEQ_CST);
}

struct run_opts {
	const char *config, *storage, *listen;
};

/* Load the configuration (or the defaults) and apply command-line
 * overrides. Errors are printed; returns NULL. */
static struct conf *load(const struct run_opts *o, char **errtext)
{
	struct conf *c = NULL;
	struct conf_errs errs;

	if (o->config) {
		if (conf_load(o->config, &c, &errs) != 0) {
			char *text = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&text, &len);

			conf_errs_print(&errs, m ? m : stderr);
			if (m) {
				fclose(m);
				fputs(text, stderr);
				if (errtext)
					*errtext = text;
				else
					free(text);
			}
			conf_errs_free(&errs);
			return NULL;
		}
		conf_errs_print(&errs, stderr); /* the warnings */
		conf_errs_free(&errs);
	} else {
		c = conf_defaults();
	}
	if (o->storage) {
		free(c->storage.path);
		c->storage.path = xstrdup(o->storage);
	}
	if (o->listen) {
		for (size_t i = 0; i < c->http.nlisten; i++)
			free(c->http.listen[i]);
		c->http.listen[0] = xstrdup(o->listen);
		c->http.nlisten = 1;
	}
	return c;
}

/* What one configuration runs; replaced as a whole by a reload. */
struct parts {
	struct conf *conf;
	struct collector *col;
	struct alerts *alerts;
	struct notify *notify;
	struct remote_write *rw;
};

/* The daemon: what lives across reloads (store, HTTP server, the slot of
 * views) and the current parts. */
struct daemon {
	struct run_opts o;
	struct store *store;
	struct pw_slot *views;
	struct httpd *httpd;
	struct httpd_deps hd;
	struct parts p;
	int64_t next_retention, next_alerts, next_notify;
	/* the first evaluation after start waits for the first round of scrapes
	 * (or this time): before it, a new installation has no data and every
	 * unit of a roster would be "not reporting" for a minute */
	int64_t hold_alerts_until;
	int64_t watchdog_ms, next_watchdog; /* systemd's watchdog, 0: none */
};

/* remote_write's metrics on /metrics: slot 0 of the server's providers */
enum { METRICS_REMOTE_WRITE = 0 };

static void remote_write_httpd_metrics(void *ctx, struct pw_buf *b, bool openmetrics)
{
	remote_write_metrics(ctx, b, openmetrics);
}

static void drain(struct collector *col)
{
	collector_set_draining(col, true);
	while (collector_inflight(col) > 0)
		collector_step(col, 100);
}

/* Free what parts_new made (threads stopped first, scrapes drained). */
static void parts_free(struct parts *p)
{
	if (p->col) {
		drain(p->col);
		collector_free(p->col);
	}
	notify_free(p->notify);
	remote_write_free(p->rw);
	alerts_free(p->alerts);
	memset(p, 0, sizeof *p);
}

/* The collector, decider, notifier and remote_write of c (not started):
 * 0, or an error with *cause and nothing made. */
static int parts_new(struct daemon *d, struct conf *c, struct parts *p, char **cause)
{
	memset(p, 0, sizeof *p);
	if (collector_new(c, d->store, &p->col, cause) != 0 ||
	    alerts_new(c, d->store, d->views, &p->alerts, cause) != 0 ||
	    notify_new(c, d->store, d->views, &p->notify, cause) != 0) {
		parts_free(p);
		return PW_EINVAL;
	}
	/* remote_write reads what to send from the store's change feed */
	store_set_feed(d->store, c->nremote_write > 0);
	remote_write_new(c, d->store, &p->rw, cause);
	p->conf = c;
	return 0;
}

/* check-config's last step: build what run builds from c (collector,
 * decider, notifier, remote_write) over an empty store in a temporary
 * directory, and throw it away; 0, or an error with *cause. Whatever run
 * would refuse at start is refused here too, even a check the
 * configuration's loader does not know. */
int run_probe(struct conf *c, char **cause)
{
	char dir[] = "/tmp/pacewatch-check-XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char *path = tmp && *tmp ? xasprintf("%s/pacewatch-check-XXXXXX", tmp) : xstrdup(dir);
	struct daemon d = {0};
	struct store_opts so = {0};
	int rc;

	*cause = NULL;
	if (!mkdtemp(path)) {
		*cause = xasprintf("cannot make a temporary directory %s: %s", path, strerror(errno));
		free(path);
		return PW_EINVAL;
	}
	so.path = path;
	so.no_sync = true;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((rc = store_open(&so, &d.store, cause)) == 0) {
		d.views = pw_slot_new();
		rc = parts_new(&d, c, &d.p, cause);
		if (rc == 0) {
			d.p.conf = NULL; /* the caller's */
			parts_free(&d.p);
		}
		pw_slot_free(d.views);
		store_close(d.store);
	}
	{
		/* the store's files, whatever it made there */
		DIR *dp = opendir(path);
		struct dirent *de;
		while (dp && (de = readdir(dp)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char *f = xasprintf("%s/%s", path, de->d_name);
			unlink(f);
			free(f);
		}
		if (dp)
			closedir(dp);
		rmdir(path);
	}
	curl_global_cleanup();
	free(path);
	return rc;
}

/* The parts go to work: the HTTP server shows them, their threads start,
 * a first view is published, and the loop runs everything at once. */
static void parts_start(struct daemon *d)
{
	httpd_set_collector(d->httpd, d->p.col);
	httpd_set_notify(d->httpd, d->p.notify);
	httpd_set_metrics(d->httpd, METRICS_REMOTE_WRITE, remote_write_httpd_metrics, d->p.rw);
	alerts_publish(d->p.alerts);
	notify_start(d->p.notify);
	remote_write_start(d->p.rw);
	d->next_alerts = 0;
	d->next_notify = 0;
}

/* SIGHUP: a new configuration, or the old one kept with the reason logged
 * (and answered to POST /-/reload) */
static void reload(struct daemon *d)
{
	struct conf *nc, *old = d->p.conf;
	struct parts np;
	char *cause = NULL;
	bool asked_by_http;

	pthread_mutex_lock(&rl_lock);
	asked_by_http = rl_asked;
	pthread_mutex_unlock(&rl_lock);
	log_info("daemon", "reloading %s (%s)", d->o.config ? d->o.config : "(defaults)",
		 asked_by_http ? "POST /-/reload" : "SIGHUP");
	sd_notify_reloading();
	if (!(nc = load(&d->o, &cause))) {
		char *answer;

		sd_notify_send("READY=1\nSTATUS=reload refused: the configuration has errors\n");
		log_error("daemon", "reload refused: the configuration has errors (above); the old "
				    "one keeps running");
		answer = xasprintf("%sthe configuration has errors; the old one keeps running",
				   cause ? cause : "");
		reload_answer(PW_EINVAL, answer);
		free(answer);
		free(cause);
		return;
	}
	if (strcmp(nc->storage.path, old->storage.path) != 0)
		log_warnx("daemon", "storage.path changes only on restart");
	if (parts_new(d, nc, &np, &cause) != 0) {
		log_error("daemon", "reload refused: %s; the old configuration keeps running", cause);
		sd_notify_send("READY=1\nSTATUS=reload refused\n");
		reload_answer(PW_EINVAL, cause);
		free(cause);
		conf_free(nc);
		return;
	}
	/* the HTTP server lets go of the old parts before they are freed;
	 * alerts carry on: the new decider restores them from
	 * ALERTS_FOR_STATE, the new notifier takes over the outbox and the
	 * notification log, remote_write resumes from its cursors */
	/* before the HTTP server sees the new notifier: counters do not restart */
	notify_carry(np.notify, d->p.notify);
	httpd_set_collector(d->httpd, np.col);
	httpd_set_notify(d->httpd, np.notify);
	httpd_set_metrics(d->httpd, METRICS_REMOTE_WRITE, remote_write_httpd_metrics, np.rw);
	parts_free(&d->p);
	d->p = np;
	parts_start(d);
	/* the HTTP server keeps the settings it started with */
	if (d->hd.conf != old)
		conf_free(old);
	log_info("daemon", "reloaded: %zu targets, %zu rule groups", nc->ntargets,
		 nc->nrule_groups);
	sd_notify_send("READY=1\nSTATUS=running\n");
	reload_answer(0, NULL);
}

static void retention(struct daemon *d)
{
	uint64_t dropped = 0;
	char *cause = NULL;
	if (store_retention(d->store, pw_now_ms() - d->p.conf->storage.retention_ms, &dropped,
			    &cause) != 0) {
		log_error("store", "retention: %s", cause);
		free(cause);
	} else if (dropped) {
		log_info("store", "retention dropped %llu samples", (unsigned long long)dropped);
	}
	d->next_retention = pw_now_ms() + 3600000;
}

static void loop(struct daemon *d)
{
	while (!__atomic_load_n(&got_stop, __ATOMIC_SEQ_CST)) {
		/* short waits: a signal is noticed within a quarter second */
		collector_step(d->p.col, 250);
		if (d->hold_alerts_until && (collector_first_round_done(d->p.col) ||
					     pw_now_ms() >= d->hold_alerts_until))
			d->hold_alerts_until = 0;
		if (!d->hold_alerts_until && pw_now_ms() >= d->next_alerts) {
			d->next_alerts = alerts_step(d->p.alerts, pw_now_ms());
			d->next_notify = 0; /* alerts may have changed */
		}
		if (pw_now_ms() >= d->next_notify)
			d->next_notify = notify_step(d->p.notify, pw_now_ms());
		if (__atomic_exchange_n(&got_hup, 0, __ATOMIC_SEQ_CST))
			reload(d);
		if (pw_now_ms() >= d->next_retention)
			retention(d);
		/* from the loop itself: a loop that hangs stops the pings and
		 * systemd restarts the service */
		if (d->watchdog_ms && pw_now_ms() >= d->next_watchdog) {
			sd_notify_send("WATCHDOG=1\n");
			d->next_watchdog = pw_now_ms() + d->watchdog_ms;
		}
	}
}

/* the store, the first parts and the HTTP server: 0, or 1 with the error
 * logged and everything closed */
static int daemon_open(struct daemon *d, struct conf *conf)
{
	struct store_opts so = {0};
	char *cause = NULL;
	int rc;

	so.path = conf->storage.path;
	so.initial_map_size = conf->storage.initial_size;
	so.max_map_size = conf->storage.max_size;
	so.no_sync = !conf->storage.sync;
	so.no_meta_sync = !conf->storage.sync_meta;
	so.max_series = (uint64_t)conf->storage.max_series;
	if ((rc = store_open(&so, &d->store, &cause)) != 0) {
		log_error("store", "%s", cause ? cause : pw_strerror(rc));
		free(cause);
		conf_free(conf);
		return 1;
	}
	d->views = pw_slot_new();
	if (parts_new(d, conf, &d->p, &cause) != 0) {
		log_error("daemon", "%s", cause);
		free(cause);
		goto fail;
	}
	d->hd.conf = conf;
	d->hd.store = d->store;
	d->hd.collector = d->p.col;
	d->hd.views = d->views;
	d->hd.notify = d->p.notify;
	d->hd.metrics[METRICS_REMOTE_WRITE] =
		(struct httpd_metrics){remote_write_httpd_metrics, d->p.rw};
	d->hd.reload = http_reload;
	if (httpd_start(&d->hd, &d->httpd, &cause) != 0) {
		log_error("http", "%s", cause);
		free(cause);
		parts_free(&d->p);
		goto fail;
	}
	return 0;
fail:
	pw_slot_free(d->views);
	store_close(d->store);
	conf_free(conf);
	return 1;
}

static void daemon_close(struct daemon *d)
{
	log_info("daemon", "stopping: finishing %zu scrapes in flight",
		 collector_inflight(d->p.col));
	sd_notify_send("STOPPING=1\nSTATUS=stopping\n");
	/* a /-/reload waiting for the loop must not hold up the server's stop */
	pthread_mutex_lock(&rl_lock);
	rl_stopping = true; /* first: later requests see it, earlier ones get the answer */
	pthread_mutex_unlock(&rl_lock);
	reload_answer(PW_EINVAL, "pacewatch is stopping");
	api_stop_queries();
	httpd_stop(d->httpd);
	if (d->hd.conf != d->p.conf)
		conf_free((struct conf *)d->hd.conf);
	{
		struct conf *c = d->p.conf;
		parts_free(&d->p);
		conf_free(c);
	}
	free(rl_cause);
	rl_cause = NULL;
	pw_slot_free(d->views);
	store_close(d->store);
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'},
					   {"storage", required_argument, 0, 's'},
					   {"listen", required_argument, 0, 'l'},
					   {"log-level", required_argument, 0, 'L'},
					   {0, 0, 0, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:l:L:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->storage = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'L': {
			enum pw_log_level lv;
			if (pw_log_level_parse(optarg, &lv) != 0) {
				fprintf(stderr, "pacewatch: --log-level: error, warn, info or debug\n");
				return 2;
			}
			pw_log_set_level(lv);
			break;
		}
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pacewatch: run: unexpected argument \"%s\" (the configuration is -c FILE)\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct daemon d = {0};
	struct sigaction sa;
	struct conf *conf;
	int rc;

	if ((rc = parse_args(argc, argv, &d.o)) != 0)
		return rc;
	if (!(conf = load(&d.o, NULL)))
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (daemon_open(&d, conf) != 0) {
		curl_global_cleanup();
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("daemon", "pacewatch %s running: %zu targets, store %s, http %s%s%s", PW_VERSION,
		 conf->ntargets, conf->storage.path, conf->http.nlisten ? conf->http.listen[0] : "-",
		 d.o.config ? ", configuration " : "", d.o.config ? d.o.config : "");
	d.next_retention = pw_now_ms() + 60000;
	d.hold_alerts_until = pw_now_ms() + 60000;
	parts_start(&d);
	/* listening, store open, first view published: ready */
	sd_notify_send("READY=1\nSTATUS=running\n");
	d.watchdog_ms = sd_watchdog_interval_ms();
	loop(&d);
	daemon_close(&d);
	curl_global_cleanup();
	log_info("daemon", "stopped");
	return 0;
}
