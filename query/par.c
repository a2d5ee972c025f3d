/*
 * par.c — a query's helper threads: the per-series work of a range function
 * (func.c's range_call) spread over a few threads while the evaluating
 * thread takes part and, alone, touches the arena, the output and the
 * limits' counters.
 *
 * A pool lives for one range function's evaluation: qpool_start starts up
 * to want - 1 helpers (fewer when the process already runs
 * QUERY_MAX_HELPERS of them for other queries), qpool_run hands out items
 * lo..hi-1 one at a time from an atomic counter to the helpers and the
 * calling thread (worker 0) and returns when every item is done,
 * qpool_stop joins the helpers. Between two runs the helpers sleep on a
 * condition variable, so that the caller can merge what a run produced
 * without anyone else running.
 */
#include "query_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* helpers of all queries together: a bound on threads whatever the number
 * of queries running at once */
#define QUERY_MAX_HELPERS 16
static atomic_int helpers_live;

struct qpool {
	pthread_mutex_t mu;
	pthread_cond_t go, idle;
	pthread_t th[QUERY_MAX_THREADS];
	unsigned nth;      /* helpers started */
	uint64_t gen;      /* runs so far; a helper joins the run it sees */
	bool quit;
	unsigned busy;     /* helpers inside the current run */
	atomic_size_t next;
	size_t hi;
	void (*fn)(void *ctx, unsigned w, size_t i);
	void *ctx;
};

static void work(struct qpool *p, unsigned w, size_t hi)
{
	for (;;) {
		size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (i >= hi)
			return;
		p->fn(p->ctx, w, i);
	}
}

struct helper {
	struct qpool *p;
	unsigned w;
};

static void *helper_main(void *arg)
{
	struct helper h = *(struct helper *)arg;
	struct qpool *p = h.p;
	uint64_t seen = 0;
	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		size_t hi = p->hi;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		work(p, h.w, hi);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

unsigned query_threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > QUERY_DEFAULT_THREADS_MAX ? QUERY_DEFAULT_THREADS_MAX : (unsigned)n;
}

struct qpool *qpool_start(unsigned want, void (*fn)(void *ctx, unsigned w, size_t i), void *ctx)
{
	struct qpool *p;
	int got, have;

	if (want > QUERY_MAX_THREADS)
		want = QUERY_MAX_THREADS;
	if (want < 2)
		return NULL;
	/* take up to want - 1 of the process' helpers */
	have = atomic_load(&helpers_live);
	do {
		got = QUERY_MAX_HELPERS - have;
		if (got > (int)want - 1)
			got = (int)want - 1;
		if (got <= 0)
			return NULL;
	} while (!atomic_compare_exchange_weak(&helpers_live, &have, have + got));
	p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->fn = fn;
	p->ctx = ctx;
	/* helpers take no signals: the daemon's threads handle them */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int k = 0; k < got; k++) {
		struct helper *h = xmalloc(sizeof *h);
		h->p = p;
		h->w = (unsigned)k + 1;
		if (pthread_create(&p->th[p->nth], NULL, helper_main, h) != 0) {
			free(h);
			break;
		}
		p->nth++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	atomic_fetch_sub(&helpers_live, got - (int)p->nth);
	if (p->nth == 0) {
		qpool_stop(p);
		return NULL;
	}
	return p;
}

unsigned qpool_workers(const struct qpool *p)
{
	return p ? p->nth + 1 : 1;
}

void qpool_run(struct qpool *p, size_t lo, size_t hi)
{
	pthread_mutex_lock(&p->mu);
	atomic_store_explicit(&p->next, lo, memory_order_relaxed);
	p->hi = hi;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	work(p, 0, hi);
	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void qpool_stop(struct qpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (unsigned k = 0; k < p->nth; k++)
		pthread_join(p->th[k], NULL);
	atomic_fetch_sub(&helpers_live, (int)p->nth);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->go);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
