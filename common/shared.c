/*
 * shared.c — immutable objects published by one thread and read by others
 * (pw_shared: a reference count and the function that frees), and the slot
 * a publisher swaps them into (pw_slot). Views of alerts and KPIs and the
 * notifier's status travel this way; nobody holds a lock while reading one.
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

void pw_shared_init(struct pw_shared *s, void (*free_fn)(struct pw_shared *s))
{
	atomic_init(&s->refs, 1);
	s->free_fn = free_fn;
}

struct pw_shared *pw_shared_ref(struct pw_shared *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void pw_shared_unref(struct pw_shared *s)
{
	/* acq_rel: the thread that frees sees every write made before the
	 * other references were dropped */
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		s->free_fn(s);
}

struct pw_slot {
	pthread_mutex_t lock;
	struct pw_shared *cur;
};

struct pw_slot *pw_slot_new(void)
{
	struct pw_slot *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void pw_slot_free(struct pw_slot *s)
{
	if (!s)
		return;
	pw_shared_unref(s->cur);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void pw_slot_publish(struct pw_slot *s, struct pw_shared *obj)
{
	struct pw_shared *old;
	pthread_mutex_lock(&s->lock);
	old = s->cur;
	s->cur = obj;
	pthread_mutex_unlock(&s->lock);
	pw_shared_unref(old); /* outside the lock: freeing may take a while */
}

struct pw_shared *pw_slot_get(struct pw_slot *s)
{
	struct pw_shared *o;
	pthread_mutex_lock(&s->lock);
	o = pw_shared_ref(s->cur);
	pthread_mutex_unlock(&s->lock);
	return o;
}
