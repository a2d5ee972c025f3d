/*
 * remote_write.h — Prometheus remote write 1.0 (protobuf, snappy) from the
 * store to every endpoint of the configuration's remote_write list.
 * Nothing is queued in memory: each endpoint keeps its place in the
 * store's change feed (the caller turns it on with store_set_feed while
 * any endpoint is configured), so a receiver outage or a restart ends in
 * catch-up, and a new endpoint first gets the stored history; see
 * remote_write.c.
 *
 * Threads: remote_write_start starts one thread per endpoint, which starts
 * `concurrency` senders for each round. remote_write_metrics may be called
 * from any thread; new, start and free from one.
 * Ownership: the configuration and the store must outlive the
 * remote_write. Two remote_writes must not run on one store at the same
 * time (they would share the endpoints' places): free the old one before
 * starting its replacement.
 */
#ifndef PW_REMOTE_WRITE_H
#define PW_REMOTE_WRITE_H

#include <stdbool.h>

#include "common.h"
#include "conf.h"
#include "store.h"

struct remote_write;

/* Prepare sending to every endpoint of c->remote_write (none is fine: it
 * then does nothing). Starts nothing and does not touch the store. Cannot
 * fail today and returns 0; errors would be a PW_* code with *cause (new
 * string). */
int remote_write_new(const struct conf *c, struct store *st, struct remote_write **out,
		     char **cause);
/* Start the endpoints' threads: each reads its place from the store (a
 * new endpoint records one) and sends from there, retrying until
 * remote_write_free. An endpoint whose thread cannot be created does not
 * send. Call once. */
void remote_write_start(struct remote_write *w);
/* Stop and free (NULL is fine): waits for the threads, a request in flight
 * finishing or timing out. A round cut short is sent again by the next
 * remote_write on the store. */
void remote_write_free(struct remote_write *w);
/* Append the pacewatch_remote_write_* families (labels remote and url, a
 * series per endpoint) to b: OpenMetrics 1.0.0 when openmetrics, else
 * text format 0.0.4. */
void remote_write_metrics(struct remote_write *w, struct pw_buf *b, bool openmetrics);

#endif /* PW_REMOTE_WRITE_H */
