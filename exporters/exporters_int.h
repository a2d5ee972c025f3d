/*
 * exporters_int.h — what the files of exporters/ share.
 */
#ifndef PW_EXPORTERS_INT_H
#define PW_EXPORTERS_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "common.h"
#include "exporters.h"

#define MAX_DAEMONS 8
/* request counters by path: see path_names in httpd.c */
#define NPATHS 9
enum { PATH_QUERY = 6, PATH_QUERY_RANGE = 7, PATH_API_OTHER = 8 };

struct httpd {
	struct MHD_Daemon *d[MAX_DAEMONS];
	size_t nd;
	const struct conf *conf;
	struct store *store;
	struct collector *col;
	struct rules *rules;
	struct notify *notify;
	struct remote_write *remote_write;
	pthread_mutex_t lock; /* col, rules, notify and remote_write */
	/* the counters only, and a leaf: nothing is locked while it is held.
	 * count() runs with a store snapshot open (/metrics streams from one),
	 * and lock is held around calls that open one (notify_json), so count()
	 * taking lock made a lock-order cycle with the store's resize lock. */
	pthread_mutex_t counts_lock;
	httpd_reload_fn reload;
	void *reload_ctx;
	bool loopback_only;
	uint64_t max_body;
	struct {
		int path, code;
		uint64_t n;
	} counts[64];
	size_t ncounts;
};

struct req {
	struct pw_buf body;
	bool too_big;
};

enum MHD_Result send_text(struct httpd *h, struct MHD_Connection *c, int path, unsigned code,
			  const char *ctype, const char *text);
void count(struct httpd *h, int path, unsigned code);

/* api.c: the Prometheus HTTP API under /api/v1/ (query, query_range,
 * series, labels, label values, metadata, exemplars, buildinfo, targets). */
enum MHD_Result api_handle(struct httpd *h, struct MHD_Connection *c, const char *url,
			   bool post, struct req *rq);

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
