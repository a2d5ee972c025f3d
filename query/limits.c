/*
 * limits.c — what a query may hold: its memory account (query_mem), charged
 * in bytes before anything is allocated, and the budget accounts share
 * (query_budget): the total of all queries running at once, and how many
 * run at once, the others waiting as under Prometheus'
 * --query.max-concurrency (in no particular order). parse.c and
 * eval.c charge through the arena (util.c); the API charges its JSON.
 */
#include "query_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct query_budget {
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* a place came free */
	uint64_t used, limit;  /* bytes all accounts hold; limit 0: none */
	int running, max_running; /* max_running 0: no limit */
	atomic_bool stopping;  /* query_budget_stop */
};

struct query_budget *query_budget_new(void)
{
	struct query_budget *b = xcalloc(1, sizeof *b);
	pthread_condattr_t ca;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	return b;
}

void query_budget_free(struct query_budget *b)
{
	if (!b)
		return;
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void query_budget_set(struct query_budget *b, uint64_t max_bytes, int max_running)
{
	pthread_mutex_lock(&b->mu);
	b->limit = max_bytes;
	b->max_running = max_running > 0 ? max_running : 0;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

uint64_t query_budget_used(struct query_budget *b)
{
	uint64_t u;
	pthread_mutex_lock(&b->mu);
	u = b->used;
	pthread_mutex_unlock(&b->mu);
	return u;
}

void query_budget_stop(struct query_budget *b)
{
	pthread_mutex_lock(&b->mu);
	atomic_store(&b->stopping, true);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

bool query_mem_stopped(const struct query_mem *m)
{
	return m && m->shared && atomic_load_explicit(&m->shared->stopping, memory_order_relaxed);
}

int query_budget_enter(struct query_budget *b, int64_t deadline_ns, struct query_error *err)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000),
			      .tv_nsec = (long)(deadline_ns % 1000000000)};
	bool in = false, stopped = false;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		if ((stopped = atomic_load(&b->stopping)))
			break;
		if (!b->max_running || b->running < b->max_running) {
			b->running++;
			in = true;
			break;
		}
		if (pw_mono_ns() >= deadline_ns ||
		    pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT) {
			/* one last look: a place may have come free just now */
			if (!b->max_running || b->running < b->max_running) {
				b->running++;
				in = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
	if (!in) {
		if (err) {
			err->type = stopped ? QUERY_ERR_CANCELED : QUERY_ERR_TIMEOUT;
			err->msg = xstrdup(stopped ? QUERY_STOPPED_MSG : "query timed out in query queue");
			err->pos = -1;
		}
		return stopped ? -ECANCELED : -ETIMEDOUT;
	}
	return 0;
}

void query_budget_leave(struct query_budget *b)
{
	pthread_mutex_lock(&b->mu);
	if (b->running > 0)
		b->running--;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static void fmt_bytes(char *d, size_t n, uint64_t v)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;
	double x = (double)v;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (x == (double)(uint64_t)x)
		snprintf(d, n, "%llu%s", (unsigned long long)x, units[u]);
	else
		snprintf(d, n, "%.1f%s", x, units[u]);
}

int query_mem_charge(struct query_mem *m, uint64_t n, struct query_error *err)
{
	char a[32], b[32];
	if (m->limit && (n > m->limit || m->used > m->limit - n)) {
		if (err) {
			fmt_bytes(a, sizeof a, m->limit);
			err->type = QUERY_ERR_EXECUTION;
			err->msg = xasprintf("query processing would use more than %s of memory (query.max_bytes)",
					     a);
			err->pos = -1;
		}
		return PW_ETOOBIG;
	}
	if (m->shared) {
		struct query_budget *s = m->shared;
		bool over;
		uint64_t used, limit;
		pthread_mutex_lock(&s->mu);
		used = s->used;
		limit = s->limit;
		over = limit && (n > limit || used > limit - n);
		if (!over)
			s->used += n;
		pthread_mutex_unlock(&s->mu);
		if (over) {
			if (err) {
				fmt_bytes(a, sizeof a, used);
				fmt_bytes(b, sizeof b, limit);
				err->type = QUERY_ERR_UNAVAILABLE;
				err->msg = xasprintf("the queries running now hold %s of memory, and all of them together may hold %s (query.max_bytes_total): try again later",
						     a, b);
				err->pos = -1;
			}
			return PW_ETOOBIG;
		}
	}
	m->used += n;
	return 0;
}

void query_mem_release(struct query_mem *m, uint64_t n)
{
	if (n > m->used)
		n = m->used;
	m->used -= n;
	if (m->shared && n) {
		pthread_mutex_lock(&m->shared->mu);
		m->shared->used -= n < m->shared->used ? n : m->shared->used;
		pthread_mutex_unlock(&m->shared->mu);
	}
}
