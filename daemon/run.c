/*
 * run.c — `pacewatch run`: the daemon. One thread runs the event loop:
 * the collector's scrapes (libcurl multi), hourly retention, and signals:
 * SIGTERM/SIGINT finish the scrapes in flight and exit 0; SIGHUP reloads
 * the configuration, and a bad new one is logged with its errors while
 * the old one keeps running.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "collector.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "exporters.h"
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
static struct conf *load(const struct run_opts *o)
{
	struct conf *c = NULL;
	struct conf_errs errs;

	if (o->config) {
		if (conf_load(o->config, &c, &errs) != 0) {
			conf_errs_print(&errs, stderr);
			conf_errs_free(&errs);
			return NULL;
		}
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

/* The HTTP server reads the configuration it started with: keep that one
 * alive across reloads; return what may be freed. */
static struct conf *hd_conf_keep(struct httpd_deps *hd, struct conf *old, struct conf *nc)
{
	(void)nc;
	return hd->conf == old ? NULL : old;
}

static void drain(struct collector *col)
{
	collector_set_draining(col, true);
	while (collector_inflight(col) > 0)
		collector_step(col, 100);
}

int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'},
					   {"storage", required_argument, 0, 's'},
					   {"listen", required_argument, 0, 'l'},
					   {"log-level", required_argument, 0, 'L'},
					   {0, 0, 0, 0}};
	struct run_opts o = {0};
	struct conf *conf;
	struct store *store = NULL;
	struct collector *col = NULL;
	struct httpd *httpd = NULL;
	struct httpd_deps hd = {0};
	struct store_opts so = {0};
	struct sigaction sa;
	char *cause = NULL;
	int64_t next_retention, next_rules = 0, next_notify = 0;
	struct rules *rules = NULL, *nrules = NULL;
	struct notify *notify = NULL, *nnotify = NULL;
	struct remote_write *rw = NULL, *nrw = NULL;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:l:L:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.config = optarg; break;
		case 's': o.storage = optarg; break;
		case 'l': o.listen = optarg; break;
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
	if (!(conf = load(&o)))
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	so.path = conf->storage.path;
	so.initial_map_size = conf->storage.initial_size;
	so.max_map_size = conf->storage.max_size;
	so.no_sync = !conf->storage.sync;
	if ((rc = store_open(&so, &store, &cause)) != 0) {
		log_error("store", "%s", cause ? cause : pw_strerror(rc));
		free(cause);
		conf_free(conf);
		return 1;
	}
	if (collector_new(conf, store, &col, &cause) != 0) {
		log_error("collector", "%s", cause);
		free(cause);
		store_close(store);
		conf_free(conf);
		return 1;
	}
	if (rules_new(conf, store, &rules, &cause) != 0) {
		log_error("rules", "%s", cause);
		free(cause);
		collector_free(col);
		store_close(store);
		conf_free(conf);
		return 1;
	}
	if (notify_new(conf, store, rules, &notify, &cause) != 0) {
		log_error("notify", "%s", cause);
		free(cause);
		rules_free(rules);
		collector_free(col);
		store_close(store);
		conf_free(conf);
		return 1;
	}
	hd.conf = conf;
	hd.store = store;
	hd.collector = col;
	hd.rules = rules;
	/* remote_write reads what to send from the store's change feed */
	store_set_feed(store, conf->nremote_write > 0);
	remote_write_new(conf, store, &rw, &cause);
	hd.notify = notify;
	hd.remote_write = rw;
	hd.reload = http_reload;
	if (httpd_start(&hd, &httpd, &cause) != 0) {
		log_error("http", "%s", cause);
		free(cause);
		notify_free(notify);
		remote_write_free(rw);
		rules_free(rules);
		collector_free(col);
		store_close(store);
		conf_free(conf);
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
		 o.config ? ", configuration " : "",
		 o.config ? o.config : "");
	next_retention = pw_now_ms() + 60000;
	notify_start(notify);
	remote_write_start(rw);

	while (!__atomic_load_n(&got_stop, __ATOMIC_SEQ_CST)) {
		/* short waits: a signal is noticed within a quarter second */
		collector_step(col, 250);
		if (pw_now_ms() >= next_rules) {
			next_rules = rules_step(rules, pw_now_ms());
			next_notify = 0; /* alerts may have changed */
		}
		if (pw_now_ms() >= next_notify)
			next_notify = notify_step(notify, pw_now_ms());
		if (__atomic_exchange_n(&got_hup, 0, __ATOMIC_SEQ_CST)) {
			struct conf *nc;
			struct collector *ncol = NULL;
			log_info("daemon", "SIGHUP: reloading %s", o.config ? o.config : "(defaults)");
			if (!(nc = load(&o))) {
				log_error("daemon", "reload refused: the configuration has errors (above); "
						    "the old one keeps running");
				reload_answer(PW_EINVAL, "the configuration has errors (see the log); the "
							 "old one keeps running");
				continue;
			}
			if (strcmp(nc->storage.path, conf->storage.path) != 0)
				log_warnx("daemon", "storage.path changes only on restart");
			if (collector_new(nc, store, &ncol, &cause) != 0 ||
			    rules_new(nc, store, &nrules, &cause) != 0 ||
			    notify_new(nc, store, nrules, &nnotify, &cause) != 0) {
				collector_free(ncol);
				ncol = NULL;
				rules_free(nrules);
				nrules = NULL;
				log_error("daemon", "reload refused: %s; the old configuration keeps running",
					  cause);
				reload_answer(PW_EINVAL, cause);
				free(cause);
				cause = NULL;
				conf_free(nc);
				continue;
			}
			drain(col);
			httpd_set_collector(httpd, ncol);
			collector_free(col);
			/* alerts carry on: the new rules restore them from ALERTS_FOR_STATE;
			 * the new notifier takes over the outbox and the notification log */
			httpd_set_notify(httpd, nnotify);
			notify_free(notify);
			httpd_set_rules(httpd, nrules);
			rules_free(rules);
			rules = nrules;
			nrules = NULL;
			notify = nnotify;
			nnotify = NULL;
			notify_start(notify);
			/* remote_write resumes from its cursors in the store */
			store_set_feed(store, nc->nremote_write > 0);
			remote_write_new(nc, store, &nrw, &cause);
			httpd_set_remote_write(httpd, nrw);
			remote_write_free(rw);
			rw = nrw;
			nrw = NULL;
			remote_write_start(rw);
			next_rules = 0;
			next_notify = 0;
			/* the HTTP server keeps the settings it started with */
			col = ncol;
			conf_free(hd_conf_keep(&hd, conf, nc));
			conf = nc;
			log_info("daemon", "reloaded: %zu targets, %zu rule groups", conf->ntargets,
				 conf->nrule_groups);
			reload_answer(0, NULL);
		}
		if (pw_now_ms() >= next_retention) {
			uint64_t dropped = 0;
			if (store_retention(store, pw_now_ms() - conf->storage.retention_ms, &dropped,
					    &cause) != 0) {
				log_error("store", "retention: %s", cause);
				free(cause);
				cause = NULL;
			} else if (dropped) {
				log_info("store", "retention dropped %llu samples",
					 (unsigned long long)dropped);
			}
			next_retention = pw_now_ms() + 3600000;
		}
	}
	log_info("daemon", "stopping: finishing %zu scrapes in flight", collector_inflight(col));
	/* a /-/reload waiting for the loop must not hold up the server's stop */
	pthread_mutex_lock(&rl_lock);
	rl_stopping = true; /* first: later requests see it, earlier ones get the answer */
	pthread_mutex_unlock(&rl_lock);
	reload_answer(PW_EINVAL, "pacewatch is stopping");
	httpd_stop(httpd);
	drain(col);
	collector_free(col);
	notify_free(notify);
	remote_write_free(rw);
	rules_free(rules);
	free(rl_cause);
	rl_cause = NULL;
	if (hd.conf != conf)
		conf_free((struct conf *)hd.conf);
	store_close(store);
	conf_free(conf);
	curl_global_cleanup();
	log_info("daemon", "stopped");
	return 0;
}
