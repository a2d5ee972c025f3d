/*
 * output.c — the series a rule writes at every evaluation (a recording
 * rule's results, an alerting rule's ALERTS and ALERTS_FOR_STATE): each is
 * encoded for the store once and remembered, and a series the evaluation
 * before wrote but this one does not gets a staleness marker, as Prometheus
 * writes them.
 */
#include "alerts_int.h"

#include <stdlib.h>
#include <string.h>

static void ctab_rebuild(struct output *o, size_t cap);

void output_begin(struct output *o)
{
	o->ncur = 0;
	o->pcap = 16;
	while (o->pcap < o->nprev * 2)
		o->pcap *= 2;
	o->ptab = xcalloc(o->pcap, sizeof *o->ptab);
	o->moved = xcalloc(o->nprev + 1, sizeof *o->moved);
	for (size_t j = 0; j < o->nprev; j++) {
		size_t i = o->prev[j].ls->h & (o->pcap - 1);
		while (o->ptab[i])
			i = (i + 1) & (o->pcap - 1);
		o->ptab[i] = j + 1;
	}
	ctab_rebuild(o, o->pcap);
}

/* this evaluation's series by hash, to refuse one put twice */
static void ctab_rebuild(struct output *o, size_t cap)
{
	free(o->ctab);
	o->ccap = cap;
	o->ctab = xcalloc(cap, sizeof *o->ctab);
	for (size_t j = 0; j < o->ncur; j++) {
		size_t i = o->cur[j].ls->h & (cap - 1);
		while (o->ctab[i])
			i = (i + 1) & (cap - 1);
		o->ctab[i] = j + 1;
	}
}

static bool put_already(const struct output *o, uint64_t h, const struct pw_label *l, size_t n)
{
	for (size_t i = h & (o->ccap - 1); o->ctab[i]; i = (i + 1) & (o->ccap - 1))
		if (pw_lset_is(o->cur[o->ctab[i] - 1].ls, h, l, n))
			return true;
	return false;
}

/* the entry for these sorted labels: last evaluation's, moved over, or new */
static struct output_series *output_add(struct output *o, uint64_t h, const struct pw_label *l,
					size_t n)
{
	if (o->ncur == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->cur = xreallocarray(o->cur, o->cap, sizeof *o->cur);
	}
	for (size_t i = h & (o->pcap - 1); o->ptab[i]; i = (i + 1) & (o->pcap - 1)) {
		size_t j = o->ptab[i] - 1;
		if (!o->moved[j] && pw_lset_is(o->prev[j].ls, h, l, n)) {
			o->moved[j] = true;
			o->cur[o->ncur++] = o->prev[j];
			return &o->cur[o->ncur - 1];
		}
	}
	memset(&o->cur[o->ncur], 0, sizeof o->cur[o->ncur]);
	o->cur[o->ncur].ls = pw_lset_new(l, n);
	return &o->cur[o->ncur++];
}

/* write a sample of the series, encoding it the first time */
static void put_series(struct store_batch *b, struct output_series *e, int64_t t, double v)
{
	if (!e->key.enc && store_key_make(e->ls->l, e->ls->n, &e->key, NULL) != 0) {
		store_batch_put(b, e->ls->l, e->ls->n, t, v); /* the batch reports the error */
		return;
	}
	store_batch_put_key(b, &e->key, t, v);
}

bool output_has(const struct output *o, const struct pw_label *l, size_t n)
{
	return put_already(o, pw_labels_hash(l, n, false), l, n);
}

bool output_put(struct output *o, struct store_batch *b, const struct pw_label *l, size_t n,
		int64_t t, double v)
{
	uint64_t h = pw_labels_hash(l, n, false);
	struct output_series *e;
	if (put_already(o, h, l, n))
		return false;
	e = output_add(o, h, l, n);
	if (o->ncur * 2 > o->ccap) {
		ctab_rebuild(o, o->ccap * 2);
	} else {
		size_t i = h & (o->ccap - 1);
		while (o->ctab[i])
			i = (i + 1) & (o->ccap - 1);
		o->ctab[i] = o->ncur;
	}
	put_series(b, e, t, v);
	return true;
}

static void series_free(struct output_series *e)
{
	pw_lset_unref(e->ls);
	store_key_free(&e->key);
}

void output_end(struct output *o, struct store_batch *b, int64_t t)
{
	for (size_t i = 0; i < o->nprev; i++) {
		if (o->moved[i])
			continue; /* written again: it lives on in cur */
		put_series(b, &o->prev[i], t, store_stale_nan());
		series_free(&o->prev[i]);
	}
	free(o->ptab);
	free(o->moved);
	free(o->ctab);
	o->ptab = NULL;
	o->moved = NULL;
	o->ctab = NULL;
	/* this evaluation's set is the next one's previous */
	{
		struct output_series *p = o->prev;
		size_t pc = o->pcap_prev;
		o->prev = o->cur;
		o->nprev = o->ncur;
		o->pcap_prev = o->cap;
		o->cur = p;
		o->cap = pc;
		o->ncur = 0;
	}
}

void output_abort(struct output *o)
{
	for (size_t k = 0; k < o->ncur; k++) {
		bool from_prev = false;
		for (size_t j = 0; j < o->nprev && !from_prev; j++)
			from_prev = o->moved[j] && o->prev[j].ls == o->cur[k].ls;
		if (!from_prev)
			series_free(&o->cur[k]);
	}
	o->ncur = 0;
	free(o->ptab);
	free(o->moved);
	free(o->ctab);
	o->ptab = NULL;
	o->moved = NULL;
	o->ctab = NULL;
}

void output_resolve(struct output *o, struct store *st)
{
	struct store_key **k = NULL;
	size_t n = 0;
	for (size_t i = 0; i < o->nprev; i++) {
		if (!store_key_stale(st, &o->prev[i].key))
			continue;
		if (!k)
			k = xcalloc(o->nprev - i + 1, sizeof *k);
		k[n++] = &o->prev[i].key;
	}
	if (n)
		store_keys_resolve(st, k, n);
	free(k);
}

void output_free(struct output *o)
{
	for (size_t i = 0; i < o->nprev; i++)
		series_free(&o->prev[i]);
	free(o->prev);
	free(o->cur);
	free(o->ptab);
	free(o->moved);
	free(o->ctab);
	memset(o, 0, sizeof *o);
}
