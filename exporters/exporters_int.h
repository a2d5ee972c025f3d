/*
 * exporters_int.h — what the files of exporters/ share.
 */
#ifndef PW_EXPORTERS_INT_H
#define PW_EXPORTERS_INT_H

#include "common.h"
#include "exporters.h"

/* metrics.c: a streamed exposition over one snapshot (which it ends). */
struct expo;
struct expo *expo_new(struct store_snap *snap, bool openmetrics, bool timestamps, char *prefix);
/* Append exposition text to out until it holds about `want` bytes; false
 * once everything (and OpenMetrics' # EOF) was written. */
bool expo_fill(struct expo *e, struct pw_buf *out, size_t want);
void expo_free(struct expo *e);
void expo_escape(struct pw_buf *b, const char *s, bool quote);
void expo_sample(struct pw_buf *b, const struct pw_label *ls, size_t nl, double v, bool with_ts,
		 int64_t ts, bool openmetrics);

#endif
