/*
 * simulator — plays the platforms of the 2025 programme of practical
 * projects the way a provincial system exposes them: Shandong's
 * 16 cities and their counties, the mutual-recognition platform (paginated
 * JSON, numbers in strings), the 12356 hotline system (bearer token,
 * objects keyed by region code), the dialysis registry (nested regions), a
 * monthly outreach ledger (CSV) and a Prometheus-text endpoint. Figures
 * follow deterministic trajectories from a seed, on a simulated clock
 * (--accel simulated seconds per real second), with some units lagging on
 * purpose. Faults can be injected per endpoint, at start or at run time.
 *
 *   simulator [--listen 127.0.0.1:18080] [--seed 2025] [--accel 86400]
 *             [--start 2025-01-01] [--token TOKEN] [--port-file F]
 *             [--fault ENDPOINT=KIND[:ARG]]...
 *   endpoints: mr, mr_inst, hotline, dialysis, ledger, metrics
 *   kinds: latency:MS, http500, badjson, truncate, oversize, drip, reset, none
 *   at run time: GET /_admin/fault?endpoint=E&kind=K[&arg=N]
 */
#include <math.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* ---- the province ----------------------------------------------------- */

struct city {
	const char *code, *name;
	const char *const *counties; /* NULL: generated names */
	int ncounties;
	int lagging;                 /* 1: behind on purpose */
};

static const char *const jinan[] = {"历下区", "市中区", "槐荫区", "天桥区", "历城区", "长清区",
				    "章丘区", "济阳区", "莱芜区", "钢城区", "平阴县", "商河县", NULL};
static const char *const heze[] = {"牡丹区", "定陶区", "曹县", "单县", "成武县",
				   "巨野县", "郓城县", "鄄城县", "东明县", NULL};

static const struct city cities[] = {
	{"370100", "济南", jinan, 12, 0}, {"370200", "青岛", NULL, 10, 0},
	{"370300", "淄博", NULL, 8, 0},   {"370400", "枣庄", NULL, 6, 1},
	{"370500", "东营", NULL, 5, 0},   {"370600", "烟台", NULL, 11, 0},
	{"370700", "潍坊", NULL, 12, 0},  {"370800", "济宁", NULL, 11, 0},
	{"370900", "泰安", NULL, 6, 0},   {"371000", "威海", NULL, 4, 0},
	{"371100", "日照", NULL, 4, 0},   {"371300", "临沂", NULL, 12, 0},
	{"371400", "德州", NULL, 11, 0},  {"371500", "聊城", NULL, 8, 1},
	{"371600", "滨州", NULL, 7, 0},   {"371700", "菏泽", heze, 9, 1},
};
#define NCITIES (sizeof cities / sizeof cities[0])

static uint64_t seed = 2025;
static double accel = 86400;
static int64_t sim_start_ms, real_start_ms;
static const char *token = "sim-token-12356";

/* A stable pseudo-random number in [0,1) for (unit, salt). */
static double rnd(uint64_t unit, uint64_t salt)
{
	uint64_t k[3] = {seed, unit, salt};
	return (double)(pw_hash64(k, sizeof k) >> 11) / 9007199254740992.0;
}

static int64_t sim_now_ms(void)
{
	return sim_start_ms + (int64_t)((double)(pw_now_ms() - real_start_ms) * accel);
}

/* Days since 2025-01-01 00:00 Asia/Shanghai (1735660800 s). */
static double sim_day(void) { return (double)(sim_now_ms() - 1735660800000LL) / 86400000.0; }

static void county_name(const struct city *c, int i, char *out, size_t n, char *code, size_t cn)
{
	if (c->counties)
		snprintf(out, n, "%s", c->counties[i]);
	else
		snprintf(out, n, "%s第%d县", c->name, i + 1);
	snprintf(code, cn, "%.4s%02d", c->code, 21 + i);
}

/* ---- faults ---------------------------------------------------------------- */

enum ep { EP_MR, EP_MR_INST, EP_HOTLINE, EP_DIALYSIS, EP_LEDGER, EP_METRICS, EP_N };
static const char *const ep_names[] = {"mr", "mr_inst", "hotline", "dialysis", "ledger", "metrics"};
enum fault { F_NONE, F_LATENCY, F_500, F_BADJSON, F_TRUNCATE, F_OVERSIZE, F_DRIP, F_RESET };
static const char *const fault_names[] = {"none",     "latency",  "http500", "badjson",
					  "truncate", "oversize", "drip",    "reset"};
static struct {
	enum fault kind;
	long arg;
} faults[EP_N];
static unsigned long requests[EP_N];
static unsigned long bench_requests;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int set_fault(const char *ep, const char *kind, long arg)
{
	for (int e = 0; e < EP_N; e++) {
		if (strcmp(ep, ep_names[e]) != 0)
			continue;
		for (int k = 0; k <= F_RESET; k++) {
			if (strcmp(kind, fault_names[k]) == 0) {
				pthread_mutex_lock(&lock);
				faults[e].kind = (enum fault)k;
				faults[e].arg = arg;
				pthread_mutex_unlock(&lock);
				return 0;
			}
		}
	}
	return -1;
}

/* ---- bodies ----------------------------------------------------------------- */

static void body_mr(struct pw_buf *b, int page, int size)
{
	double d = sim_day();
	int total = (int)NCITIES, pages = (total + size - 1) / size;
	pw_buf_printf(b, "{\"code\":0,\"msg\":\"成功\",\"data\":{\"page\":%d,\"size\":%d,\"total\":%d,"
			 "\"lastPage\":%s,\"list\":[",
		      page, size, total, page >= pages ? "true" : "false");
	for (int i = (page - 1) * size, k = 0; i < total && k < size && i >= 0; i++, k++) {
		const struct city *c = &cities[i];
		/* items: from ~150 on 1 Jan to ~230 by 30 Nov; laggards reach ~190 */
		double base = 140 + 30 * rnd((uint64_t)i, 1), goal = c->lagging ? 185 : 225;
		double items = base + (goal - base) * fmin(fmax(d, 0) / 333.0, 1.0);
		int inst_total = 60 + (int)(120 * rnd((uint64_t)i, 2));
		double conn = inst_total * fmin(0.6 + 0.4 * fmax(d, 0) / 300.0, 1.0);
		double rate = 1800 + 2400 * rnd((uint64_t)i, 3); /* recognitions a day */
		long long recog = (long long)(rate * fmax(d + 180, 0));
		pw_buf_printf(b, "%s{\"cityCode\":\"%s\",\"cityName\":\"%s\",\"recognizedItems\":%d,"
				 "\"connectedInstitutions\":%d,\"recognitionCount\":\"%lld\","
				 "\"recognitionRate\":%.4f}",
			      k ? "," : "", c->code, c->name, (int)items, (int)conn, recog,
			      0.85 + 0.12 * rnd((uint64_t)i, 4) - (c->lagging ? 0.1 : 0));
	}
	pw_buf_puts(b, "]}}");
}

static void body_mr_inst(struct pw_buf *b, int page)
{
	const int total = 1468, size = 200, pages = (total + size - 1) / size;
	double d = sim_day();
	pw_buf_printf(b, "{\"data\":{\"rows\":[");
	for (int i = (page - 1) * size, k = 0; i < total && k < size && i >= 0; i++, k++) {
		int ci = i % (int)NCITIES;
		double items = 120 + 100 * rnd((uint64_t)i, 5) * fmin(fmax(d, 0) / 333.0 + 0.5, 1.0);
		pw_buf_printf(b, "%s{\"orgCode\":\"H%s%04d\",\"orgName\":\"%s市第%d医院\","
				 "\"cityCode\":\"%s\",\"level\":\"%s\",\"items\":%d,\"ratio\":%.3f}",
			      k ? "," : "", cities[ci].code, i, cities[ci].name, i / (int)NCITIES + 1,
			      cities[ci].code, rnd((uint64_t)i, 6) < 0.3 ? "三级" : "二级", (int)items,
			      0.7 + 0.3 * rnd((uint64_t)i, 7));
	}
	if (page < pages)
		pw_buf_printf(b, "],\"next\":\"/mr/api/v1/institutions?page=%d\"}}", page + 1);
	else
		pw_buf_puts(b, "],\"next\":null}}");
}

static void body_hotline(struct pw_buf *b)
{
	double d = sim_day(), since_may = fmax(d - 120, 0); /* answering from 1 May */
	char when[40];
	int64_t ms = sim_now_ms() + 8 * 3600000LL;
	pw_fmt_time(when, sizeof when, ms);
	when[10] = ' ';
	when[19] = '\0';
	pw_buf_printf(b, "{\"result\":{\"updatedAt\":\"%s\",\"cities\":{", when);
	for (size_t i = 0; i < NCITIES; i++) {
		const struct city *c = &cities[i];
		double per_day = 100 + 50 * rnd(i, 8);
		long long offered = (long long)(per_day * since_may);
		double ans = c->lagging ? 0.78 : 0.93 + 0.05 * rnd(i, 9);
		int seats = c->lagging ? 1 : 2 + (int)(3 * rnd(i, 10));
		pw_buf_printf(b, "%s\"%s\":{\"name\":\"%s\",\"callsOffered\":%lld,\"callsAnswered\":%lld,"
				 "\"seatsStaffed\":%d,\"lineStatus\":\"%s\"}",
			      i ? "," : "", c->code, c->name, offered, (long long)(offered * ans),
			      since_may > 0 ? seats : 0, since_may > 0 ? "online" : "offline");
	}
	pw_buf_puts(b, "}}}");
}

static void body_dialysis(struct pw_buf *b)
{
	double d = sim_day();
	pw_buf_printf(b, "{\"province\":\"山东\",\"cities\":[");
	for (size_t i = 0; i < NCITIES; i++) {
		const struct city *c = &cities[i];
		pw_buf_printf(b, "%s{\"code\":\"%s\",\"name\":\"%s\",\"counties\":[", i ? "," : "",
			      c->code, c->name);
		for (int k = 0; k < c->ncounties; k++) {
			char name[64], code[16];
			uint64_t u = i * 100 + (uint64_t)k;
			long residents = 60000 + (long)(1200000 * rnd(u, 11));
			/* most counties have dialysis; a few big ones only late, or not */
			double ready_day = rnd(u, 12) < 0.85 ? -1 : 100 + 300 * rnd(u, 13);
			int hosp = d >= ready_day ? 1 + (int)(3 * rnd(u, 14)) : 0;
			county_name(c, k, name, sizeof name, code, sizeof code);
			pw_buf_printf(b, "%s{\"code\":\"%s\",\"name\":\"%s\",\"residents\":%ld,"
					 "\"dialysisHospitals\":%d,\"machines\":%d,\"sessionsTotal\":%lld}",
				      k ? "," : "", code, name, residents, hosp, hosp * (8 + k % 5),
				      (long long)(hosp * 30 * fmax(d + 365, 0)));
		}
		pw_buf_puts(b, "]}");
	}
	pw_buf_puts(b, "]}");
}

static void body_ledger(struct pw_buf *b)
{
	/* the months of the simulated year that are over (2025 by default;
	 * a later --start plays the same programme in its own year) */
	int64_t days = (sim_now_ms() / 1000 + 8 * 3600) / 86400, y;
	unsigned mo, dd;
	pw_civil_from_days(days, &y, &mo, &dd);
	double d = (double)(days - pw_days_from_civil(y, 1, 1));
	pw_buf_puts(b, "date,county_code,county,lectures,events\r\n");
	for (int m = 1; m <= 12; m++) {
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int doy_end = 0;
		for (int k = 0; k < m; k++)
			doy_end += mdays[k];
		if (doy_end > d)
			break; /* a month is entered once it is over */
		for (size_t i = 0; i < NCITIES; i++) {
			const struct city *c = &cities[i];
			for (int k = 0; k < c->ncounties; k++) {
				char name[64], code[16];
				uint64_t u = i * 100 + (uint64_t)k;
				bool lag = c->lagging && k == 0;
				county_name(c, k, name, sizeof name, code, sizeof code);
				pw_buf_printf(b, "%lld-%02d-%02d,%s,\"%s\",%d,%d\r\n", (long long)y, m,
					      mdays[m - 1], code, name,
					      lag ? 0 : 1 + (int)(2 * rnd(u + (uint64_t)m, 15)),
					      lag ? 3 : 6 + (int)(4 * rnd(u + (uint64_t)m, 16)));
			}
		}
	}
}

static void body_metrics(struct pw_buf *b)
{
	pw_buf_puts(b, "# HELP sim_requests_total Requests served by the simulator.\n"
		       "# TYPE sim_requests_total counter\n");
	pthread_mutex_lock(&lock);
	for (int e = 0; e < EP_N; e++)
		pw_buf_printf(b, "sim_requests_total{endpoint=\"%s\"} %lu\n", ep_names[e], requests[e]);
	pw_buf_printf(b, "# TYPE sim_bench_requests_total counter\nsim_bench_requests_total %lu\n",
		      bench_requests);
	pthread_mutex_unlock(&lock);
	pw_buf_printf(b, "# HELP sim_simulated_time_seconds The simulated clock.\n"
			 "# TYPE sim_simulated_time_seconds gauge\n"
			 "sim_simulated_time_seconds %.3f\n",
		      (double)sim_now_ms() / 1000.0);
}

/* ---- serving --------------------------------------------------------------- */

struct stream {
	char *data;
	size_t len;
	enum fault kind;
};

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	if (s->kind == F_TRUNCATE) {
		if (pos >= s->len / 2)
			return MHD_CONTENT_READER_END_WITH_ERROR; /* closes mid-body */
		if (max > s->len / 2 - pos)
			max = s->len / 2 - pos;
	}
	if (s->kind == F_DRIP) {
		usleep(300000);
		if (pos >= s->len)
			return MHD_CONTENT_READER_END_OF_STREAM;
		buf[0] = s->data[pos];
		return 1;
	}
	if (s->kind == F_OVERSIZE) {
		if (pos >= (uint64_t)256 << 20)
			return MHD_CONTENT_READER_END_OF_STREAM;
		memset(buf, ' ', max);
		return (ssize_t)max;
	}
	if (pos >= s->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > s->len - pos)
		max = s->len - pos;
	memcpy(buf, s->data + pos, max);
	return (ssize_t)max;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	free(s->data);
	free(s);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
			     struct pw_buf *b, enum fault kind)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (kind == F_TRUNCATE || kind == F_DRIP || kind == F_OVERSIZE) {
		struct stream *s = xcalloc(1, sizeof *s);
		s->len = b->len;
		s->data = pw_buf_take(b);
		s->kind = kind;
		r = MHD_create_response_from_callback(kind == F_OVERSIZE ? MHD_SIZE_UNKNOWN : s->len,
						      4096, stream_cb, s, stream_free);
	} else {
		size_t len = b->len;
		r = MHD_create_response_from_buffer(len, pw_buf_take(b), MHD_RESPMEM_MUST_FREE);
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct pw_buf b;
	const char *ctype = "application/json; charset=utf-8", *q;
	enum ep ep;
	enum fault kind;
	long arg;
	(void)cls; (void)version; (void)upload; (void)upload_size; (void)con_cls;

	pw_buf_init(&b, 0);
	if (strcmp(method, "GET") != 0) {
		pw_buf_puts(&b, "only GET\n");
		return reply(conn, 405, "text/plain", &b, F_NONE);
	}
	if (strcmp(url, "/_admin/fault") == 0) {
		const char *e = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "endpoint");
		const char *k = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
		const char *a = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "arg");
		if (!e || !k || set_fault(e, k, a ? atol(a) : 0) != 0) {
			pw_buf_puts(&b, "usage: /_admin/fault?endpoint=E&kind=K[&arg=N]\n");
			return reply(conn, 400, "text/plain", &b, F_NONE);
		}
		pw_buf_printf(&b, "%s: %s\n", e, k);
		return reply(conn, 200, "text/plain", &b, F_NONE);
	}
	if (strcmp(url, "/mr/api/v1/cities") == 0)
		ep = EP_MR;
	else if (strcmp(url, "/mr/api/v1/institutions") == 0)
		ep = EP_MR_INST;
	else if (strcmp(url, "/hotline/api/v2/stats") == 0)
		ep = EP_HOTLINE;
	else if (strcmp(url, "/dialysis/registry") == 0)
		ep = EP_DIALYSIS;
	else if (strcmp(url, "/ledger/outreach.csv") == 0)
		ep = EP_LEDGER;
	else if (strcmp(url, "/metrics") == 0)
		ep = EP_METRICS;
	else if (strncmp(url, "/bench/t/", 9) == 0) {
		/* benchmark targets: 200 changing series each (tools/bench-collector) */
		unsigned long call;
		int t = atoi(url + 9);
		pthread_mutex_lock(&lock);
		call = ++bench_requests;
		pthread_mutex_unlock(&lock);
		pw_buf_puts(&b, "{\"data\":[");
		for (int i = 0; i < 200; i++)
			pw_buf_printf(&b, "%s{\"id\":\"s%03d\",\"value\":%lu}", i ? "," : "", i,
				      (unsigned long)t * 1000 + call * 7 + (unsigned long)i);
		pw_buf_puts(&b, "]}");
		return reply(conn, 200, ctype, &b, F_NONE);
	} else {
		pw_buf_puts(&b, "{\"code\":404,\"msg\":\"not found\"}");
		return reply(conn, 404, ctype, &b, F_NONE);
	}
	pthread_mutex_lock(&lock);
	requests[ep]++;
	kind = faults[ep].kind;
	arg = faults[ep].arg;
	pthread_mutex_unlock(&lock);
	if (kind == F_LATENCY)
		usleep((useconds_t)(arg > 0 ? arg : 2000) * 1000);
	if (kind == F_RESET)
		return MHD_NO; /* close the connection without a response */
	if (kind == F_500) {
		pw_buf_puts(&b, "{\"code\":500,\"msg\":\"服务器内部错误\"}");
		return reply(conn, 500, ctype, &b, F_NONE);
	}
	if (ep == EP_HOTLINE) {
		const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		char want[256];
		snprintf(want, sizeof want, "Bearer %s", token);
		if (!auth || strcmp(auth, want) != 0) {
			pw_buf_puts(&b, "{\"code\":401,\"msg\":\"token invalid\"}");
			return reply(conn, 401, ctype, &b, F_NONE);
		}
	}
	switch (ep) {
	case EP_MR: {
		int page = (q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "page")) ? atoi(q) : 1;
		int size = (q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "size")) ? atoi(q) : 8;
		/* the offset/limit style some platforms use instead */
		if ((q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit")))
			size = atoi(q) > 0 ? atoi(q) : 8;
		if ((q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "offset")))
			page = atoi(q) / size + 1;
		body_mr(&b, page < 1 ? 1 : page, size < 1 ? 8 : size);
		break;
	}
	case EP_MR_INST: {
		int page = (q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "page")) ? atoi(q) : 1;
		body_mr_inst(&b, page < 1 ? 1 : page);
		break;
	}
	case EP_HOTLINE: body_hotline(&b); break;
	case EP_DIALYSIS: body_dialysis(&b); break;
	case EP_LEDGER: body_ledger(&b); ctype = "text/csv; charset=utf-8"; break;
	default: body_metrics(&b); ctype = "text/plain; version=0.0.4"; break;
	}
	if (kind == F_BADJSON) {
		pw_buf_reset(&b);
		pw_buf_puts(&b, ep == EP_LEDGER ? "date,county\n\"unterminated,1\n"
				: ep == EP_METRICS ? "sim_broken{a=\"b\" 1\n"
						   : "{\"data\": [1, 2, {\"broken\": ");
	}
	return reply(conn, 200, ctype, &b, kind);
}

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:18080", *port_file = NULL, *start = "2025-01-01";
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	char host[64];
	int port;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "simulator: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--listen") == 0) listen = v;
		else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--accel") == 0) accel = atof(v);
		else if (strcmp(a, "--start") == 0) start = v;
		else if (strcmp(a, "--token") == 0) token = v;
		else if (strcmp(a, "--port-file") == 0) port_file = v;
		else if (strcmp(a, "--fault") == 0) {
			char ep[32], kind[32];
			long arg = 0;
			const char *eq = strchr(v, '='), *colon;
			if (!eq || (size_t)(eq - v) >= sizeof ep) {
				fprintf(stderr, "simulator: --fault ENDPOINT=KIND[:ARG]\n");
				return 2;
			}
			memcpy(ep, v, (size_t)(eq - v));
			ep[eq - v] = '\0';
			snprintf(kind, sizeof kind, "%s", eq + 1);
			if ((colon = strchr(eq + 1, ':'))) {
				kind[colon - eq - 1] = '\0';
				arg = atol(colon + 1);
			}
			if (set_fault(ep, kind, arg) != 0) {
				fprintf(stderr, "simulator: unknown fault %s\n", v);
				return 2;
			}
		} else {
			fprintf(stderr, "simulator: unknown option %s\n", a);
			return 2;
		}
	}
	{
		struct pw_tz *tz = NULL;
		pw_tz_load("Asia/Shanghai", &tz, NULL);
		if (pw_parse_time(start, tz, &sim_start_ms) != 0) {
			fprintf(stderr, "simulator: --start: bad time %s\n", start);
			return 2;
		}
		pw_tz_free(tz);
	}
	real_start_ms = pw_now_ms();
	if (sscanf(listen, "%63[^:]:%d", host, &port) != 2) {
		fprintf(stderr, "simulator: --listen HOST:PORT\n");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "simulator: --listen wants an IPv4 address\n");
		return 2;
	}
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			     (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "simulator: cannot listen on %s\n", listen);
		return 1;
	}
	port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (f) {
			fprintf(f, "%d\n", port);
			fclose(f);
		}
	}
	printf("simulator: serving on http://%s:%d (seed %llu, %.0fx, from %s); token %s\n", host, port,
	       (unsigned long long)seed, accel, start, token);
	fflush(stdout);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	return 0;
}
