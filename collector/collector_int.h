/*
 * collector_int.h — what the files of collector/ share.
 */
#ifndef PW_COLLECTOR_INT_H
#define PW_COLLECTOR_INT_H

#include <jansson.h>

#include <math.h>
#include <string.h>

#include "collector.h"

/* Prometheus' label limits on one series, l[0] its name (0: no limit);
 * total is how many labels it has. NULL, or why not (new string). */
char *collector_label_limits(const struct pw_label *l, size_t n, size_t total,
			     int64_t label_limit, int64_t name_len, int64_t value_len);

/* A failed commit's reason for people (new string): a full disk named as
 * such with the storage path and errno (LMDB reports a write the disk cut
 * short as EIO). *episode: the file system or the map failed, to be logged
 * once per episode rather than per write. */
char *collector_store_failure(const char *path, int rc, const char *cause, bool *episode);

/* Make jansson allocate a response's tree from an arena inside jsonmap_apply
 * (parse_json.c): once per process, before other threads use jansson (the
 * collector calls it when it is made). */
void jsonmap_init(void);

/* v was parsed from text[0..n) and overflowed a 64-bit float: infinite,
 * but not written as Inf (Prometheus' parsers refuse "1e400"). */
static inline bool collector_overflow(const char *text, size_t n, double v)
{
	return isinf(v) && !memchr(text, 'i', n) && !memchr(text, 'I', n);
}

#endif
