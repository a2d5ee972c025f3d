/*
 * simulator — plays the platforms of the 2025 programme of practical
 * projects the way a provincial system exposes them: Shandong's
 * 16 cities and their counties, the mutual-recognition platform (paginated
 * JSON, numbers in strings), the 12356 hotline system (bearer token,
 * objects keyed by region code), the dialysis registry (nested regions), a
 * monthly outreach ledger (CSV), the institution registry (the roster of
 * township health centres and blood stations), the e-vaccination
 * certificate system (counties, centres), the e-donation certificate system
 * (blood stations), a directory of ledger files and a Prometheus-text
 * endpoint. Figures follow deterministic trajectories on a simulated clock
 * (--accel simulated seconds per real second) that starts at --start and
 * plays the programme date --plays (default: --start), with units that
 * play parts on purpose (docs/programme.md: on track, lagging, at risk,
 * stale, not reporting). Faults can be injected per endpoint, at start or
 * at run time.
 *
 *   simulator [--listen 127.0.0.1:18080] [--seed 2025] [--accel 86400]
 *             [--start 2025-01-01] [--plays DATE] [--token TOKEN]
 *             [--ledger-dir DIR] [--port-file F] [--fault ENDPOINT=KIND[:ARG]]...
 *   endpoints: mr, mr_inst, hotline, dialysis, ledger, metrics, registry,
 *              evacc, evacc_centres, edonation, ledgers
 *   kinds: latency:MS, http500, badjson, truncate, oversize, drip, reset, none
 *   at run time: GET /_admin/fault?endpoint=E&kind=K[&arg=N]
 */
#include <math.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
static int64_t plays_ms;        /* the programme date --start plays */
static const char *token = "sim-token-12356";
static const char *ledger_dir;  /* --ledger-dir: served under /ledgers/ */

#define EPOCH_2025_MS 1735660800000LL /* 2025-01-01 00:00 +08:00 */
#define DAY_S 86400LL

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

/* Programme days since 2025-01-01 00:00 Asia/Shanghai: the programme date
 * --start plays, plus the simulated time since --start (with the default
 * --plays, the simulated time itself). */
static double sim_day(void)
{
	return (double)(plays_ms - EPOCH_2025_MS + sim_now_ms() - sim_start_ms) / 86400000.0;
}

static void county_name(const struct city *c, int i, char *out, size_t n, char *code, size_t cn)
{
	if (c->counties)
		snprintf(out, n, "%s", c->counties[i]);
	else
		snprintf(out, n, "%s第%d县", c->name, i + 1);
	snprintf(code, cn, "%.4s%02d", c->code, 21 + i);
}

/* ---- faults ---------------------------------------------------------------- */

enum ep {
	EP_MR, EP_MR_INST, EP_HOTLINE, EP_DIALYSIS, EP_LEDGER, EP_METRICS,
	EP_REGISTRY, EP_EVACC, EP_EVACC_CENTRES, EP_EDONATION, EP_LEDGERS, EP_N
};
static const char *const ep_names[] = {"mr",       "mr_inst", "hotline",       "dialysis",
				       "ledger",   "metrics", "registry",      "evacc",
				       "evacc_centres", "edonation", "ledgers"};
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

/* ---- the programme's newer platforms (docs/programme.md) ---------------------
 *
 * Everything below is computed from one instant, the simulated time truncated
 * to a whole second, which the responses show as asOf; s is the programme time
 * in seconds since 2025-01-01 00:00 +08:00, P0 the programme day --plays is,
 * delta_s the simulated seconds since --start. The formulas are the ones
 * docs/programme.md gives, so that a figure can be worked out by hand. */

struct clock {
	int64_t now_s;   /* simulated time, whole seconds */
	int64_t s;       /* programme time, seconds since 2025-01-01 +08:00 */
	int64_t p0;      /* programme day of --plays */
	int64_t delta_s; /* simulated seconds since --start */
	char as_of[24];  /* YYYY-MM-DD HH:MM:SS, +08:00 */
};

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static void clock_now(struct clock *c)
{
	char t[40];
	c->now_s = floor_div(sim_now_ms(), 1000);
	c->delta_s = c->now_s - floor_div(sim_start_ms, 1000);
	c->p0 = floor_div(plays_ms - EPOCH_2025_MS, 86400000);
	c->s = floor_div(plays_ms - EPOCH_2025_MS, 1000) + c->delta_s;
	pw_fmt_time(t, sizeof t, (c->now_s + 8 * 3600) * 1000);
	t[10] = ' ';
	t[19] = '\0';
	snprintf(c->as_of, sizeof c->as_of, "%.19s", t);
}

/* the local date of programme day x, on the simulated clock */
static void day_date(const struct clock *c, int64_t x, char *out, size_t n)
{
	int64_t ms = sim_start_ms + (x - c->p0) * 86400000LL, y;
	unsigned m, d;
	pw_civil_from_days(floor_div(ms / 1000 + 8 * 3600, DAY_S), &y, &m, &d);
	snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* 郓城县's townships, in code order; the first four are 街道 */
static const char *const yuncheng_towns[] = {
	"郓州街道", "唐塔街道", "张营街道", "潘渡街道", "黄安镇",   "杨庄集镇", "侯咽集镇", "黄集镇",
	"李集镇",   "郭屯镇",   "丁里长镇", "玉皇庙镇", "程屯镇",   "随官屯镇", "武安镇",   "双桥镇",
	"南赵楼镇", "黄泥冈镇", "唐庙镇",   "张鲁集镇", "水堡乡",   "陈坡乡"};
#define HEZE 15
#define YUNCHENG 6

static bool is_yuncheng(size_t i, int k) { return i == HEZE && k == YUNCHENG; }

static int n_centres(size_t i, int k)
{
	return is_yuncheng(i, k) ? 22 : 8 + (int)((7 * i + 5 * (size_t)k) % 11);
}

/* a county's part in the demo (docs/programme.md, e-vaccination) */
enum part { P_AHEAD, P_ON_TRACK, P_LAGGING, P_AT_RISK, P_STALE, P_ABSENT };

static enum part county_part(size_t i, int k)
{
	if (is_yuncheng(i, k) || (i == 1 && k == 2)) /* 郓城县, 青岛第3县 */
		return P_ON_TRACK;
	if ((i == HEZE && k == 2) || (i == 13 && k == 1)) /* 曹县, 聊城第2县 */
		return P_LAGGING;
	if (i == 0 && k == 11) /* 商河县 */
		return P_AT_RISK;
	if (i == 0 && k == 10) /* 平阴县 */
		return P_STALE;
	if (i == HEZE && k == 7) /* 鄄城县 */
		return P_ABSENT;
	return P_AHEAD;
}

/* units that stop reporting do so 6 simulated hours after --start */
#define STOP_AFTER_S (DAY_S / 4)

static bool county_served(const struct clock *c, size_t i, int k)
{
	enum part p = county_part(i, k);
	return p != P_ABSENT && !(p == P_STALE && c->delta_s >= STOP_AFTER_S);
}

/* ⌈a / b⌉ for a > 0, else 0 */
static int64_t ceil_pos(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* programme day centre j of n comes online */
static int64_t centre_day(enum part part, int n, int j, int64_t p0)
{
	int64_t k;
	switch (part) {
	case P_ON_TRACK: /* the plan less 6 points now, then one every 3 days */
		k = ceil_pos((int64_t)n * (50 * p0 - 1002), 16700);
		if (k > n)
			k = n;
		return j < k ? p0 * j / k : p0 + 1 + 3 * (j - k);
	case P_LAGGING: /* three months behind the plan */
		return 334LL * j / n + 90;
	case P_AT_RISK: /* the plan less 5 points now, then nothing in 2025 */
		k = ceil_pos((int64_t)n * (10 * p0 - 167), 3340);
		if (k > n)
			k = n;
		return j < k ? p0 * j / k : 365;
	default: /* ahead: all online by mid-October */
		return 288LL * j / n;
	}
}

struct centre {
	char code[32], name[128];
	const char *type;
	int64_t day;  /* online from this programme day */
	bool online;
	long long bound, certs;
};

static void centre_at(const struct clock *c, size_t i, int k, int j, struct centre *o)
{
	const struct city *ci = &cities[i];
	char county[64], ccode[16];
	int n = n_centres(i, k);
	long long b = 6000 + 60 * ((37 * j + 17 * k + 7 * (int)i) % 100);

	county_name(ci, k, county, sizeof county, ccode, sizeof ccode);
	snprintf(o->code, sizeof o->code, "%s%03d", ccode, j + 1);
	if (is_yuncheng(i, k)) {
		bool street = strstr(yuncheng_towns[j], "街道") != NULL;
		snprintf(o->name, sizeof o->name, "%s%s", yuncheng_towns[j],
			 street ? "社区卫生服务中心" : "卫生院");
		o->type = street ? "社区卫生服务中心" : "乡镇卫生院";
	} else if ((j + 1) % 4 == 1) {
		snprintf(o->name, sizeof o->name, "%s第%d街道社区卫生服务中心", county, j + 1);
		o->type = "社区卫生服务中心";
	} else {
		snprintf(o->name, sizeof o->name, "%s第%d镇卫生院", county, j + 1);
		o->type = "乡镇卫生院";
	}
	o->day = centre_day(county_part(i, k), n, j, c->p0);
	o->online = c->s >= o->day * DAY_S;
	o->bound = 0;
	if (o->online && o->day < 365) {
		int64_t span = (365 - o->day) * DAY_S, since = c->s - o->day * DAY_S;
		o->bound = (long long)(b * (since < span ? since : span) / span);
	}
	o->certs = o->bound * 8524 / 10000;
}

/* blood stations: one per city, and 莱芜's, which only the registry lists */
#define NSTATIONS (NCITIES + 1)
static const int station_year[NCITIES] = {6379, 6982, 3258, 2676, 1518, 4923, 6510, 5796,
					  3792, 2017, 2059, 7641, 3889, 4125, 2725, 6101};

static void station_name(size_t i, char *code, size_t cn, char *name, size_t nn, size_t *city)
{
	if (i == NCITIES) {
		snprintf(code, cn, "B370116");
		snprintf(name, nn, "莱芜中心血站");
		*city = 0;
		return;
	}
	snprintf(code, cn, "B%s", cities[i].code);
	if (i == 0)
		snprintf(name, nn, "山东省血液中心");
	else
		snprintf(name, nn, "%s市中心血站", cities[i].name);
	*city = i;
}

static int64_t station_joined(const struct clock *c, size_t i)
{
	if (i == HEZE)
		return c->p0 + 2; /* joins two simulated days after the start */
	if (i == 13)
		return 396; /* 聊城: 1 Feb 2026, after the deadline */
	return -200;    /* 15 Jun 2024 */
}

static bool station_served(const struct clock *c, size_t i)
{
	if (i == NCITIES)
		return false; /* 莱芜: in the registry only */
	if (i == 3)
		return c->delta_s < STOP_AFTER_S; /* 枣庄 stops reporting */
	return true;
}

static int page_arg(struct MHD_Connection *conn, const char *name, int def, int max)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	long v;
	if (!q)
		return def;
	v = atol(q);
	return v < 1 ? def : v > max ? max : (int)v;
}

/* the institution registry: every township centre, then every blood station;
 * type: NULL (both), "township_centre" or "blood_station" */
static void body_registry(struct pw_buf *b, const char *type, int page, int size)
{
	struct clock c;
	bool centres = !type || strcmp(type, "township_centre") == 0;
	bool stations = !type || strcmp(type, "blood_station") == 0;
	int64_t total = 0, from = (int64_t)(page - 1) * size, to = from + size, idx = 0;
	int k0 = 0;

	clock_now(&c);
	if (centres)
		for (size_t i = 0; i < NCITIES; i++)
			for (int k = 0; k < cities[i].ncounties; k++)
				total += n_centres(i, k);
	if (stations)
		total += (int64_t)NSTATIONS;
	pw_buf_printf(b, "{\"code\":0,\"msg\":\"ok\",\"data\":{\"page\":%d,\"size\":%d,\"total\":%lld,"
			 "\"isLast\":%s,\"records\":[",
		      page, size, (long long)total, to >= total ? "true" : "false");
	if (centres)
		for (size_t i = 0; i < NCITIES && idx < to; i++)
			for (int k = 0; k < cities[i].ncounties && idx < to; k++) {
				int n = n_centres(i, k);
				char county[64], ccode[16];
				if (idx + n <= from) {
					idx += n;
					continue;
				}
				county_name(&cities[i], k, county, sizeof county, ccode, sizeof ccode);
				for (int j = 0; j < n; j++, idx++) {
					struct centre o;
					if (idx < from || idx >= to)
						continue;
					centre_at(&c, i, k, j, &o);
					pw_buf_printf(b, "%s{\"orgCode\":\"%s\",\"orgName\":\"%s\",\"orgType\":\"%s\","
							 "\"countyCode\":\"%s\",\"countyName\":\"%s\",\"cityCode\":\"%s\","
							 "\"cityName\":\"%s\",\"status\":\"正常\"}",
						      k0++ ? "," : "", o.code, o.name, o.type, ccode, county,
						      cities[i].code, cities[i].name);
				}
			}
	if (stations)
		for (size_t i = 0; i < NSTATIONS; i++, idx++) {
			char code[16], name[64];
			size_t city;
			if (idx < from || idx >= to)
				continue;
			station_name(i, code, sizeof code, name, sizeof name, &city);
			pw_buf_printf(b, "%s{\"orgCode\":\"%s\",\"orgName\":\"%s\",\"orgType\":\"血站\","
					 "\"countyCode\":null,\"countyName\":null,\"cityCode\":\"%s\","
					 "\"cityName\":\"%s\",\"status\":\"正常\"}",
				      k0++ ? "," : "", code, name, cities[city].code, cities[city].name);
		}
	pw_buf_puts(b, "]}}");
}

static void body_evacc_counties(struct pw_buf *b)
{
	struct clock c;
	clock_now(&c);
	pw_buf_printf(b, "{\"success\":true,\"asOf\":\"%s\",\"data\":{\"regions\":[", c.as_of);
	for (size_t i = 0; i < NCITIES; i++) {
		int first = 1;
		pw_buf_printf(b, "%s{\"cityCode\":\"%s\",\"cityName\":\"%s\",\"counties\":[", i ? "," : "",
			      cities[i].code, cities[i].name);
		for (int k = 0; k < cities[i].ncounties; k++) {
			char county[64], ccode[16];
			int n = n_centres(i, k), on = 0;
			long long bound = 0, certs = 0;
			if (!county_served(&c, i, k))
				continue;
			county_name(&cities[i], k, county, sizeof county, ccode, sizeof ccode);
			for (int j = 0; j < n; j++) {
				struct centre o;
				centre_at(&c, i, k, j, &o);
				on += o.online;
				bound += o.bound;
				certs += o.certs;
			}
			pw_buf_printf(b, "%s{\"countyCode\":\"%s\",\"countyName\":\"%s\",\"centres\":%d,"
					 "\"centresOnline\":%d,\"onlineRate\":%.4f,\"peopleBound\":%lld,"
					 "\"certificates\":%lld}",
				      first ? "" : ",", ccode, county, n, on, (double)on / n, bound, certs);
			first = 0;
		}
		pw_buf_puts(b, "]}");
	}
	pw_buf_puts(b, "]}}");
}

static void body_evacc_centres(struct pw_buf *b, int page, int size)
{
	struct clock c;
	int64_t total = 0, from = (int64_t)(page - 1) * size, to = from + size, idx = 0;
	int first = 1;

	clock_now(&c);
	for (size_t i = 0; i < NCITIES; i++)
		for (int k = 0; k < cities[i].ncounties; k++)
			if (county_served(&c, i, k))
				total += n_centres(i, k);
	pw_buf_printf(b, "{\"success\":true,\"asOf\":\"%s\",\"pageNo\":%d,\"pageSize\":%d,\"total\":%lld,"
			 "\"last\":%s,\"rows\":[",
		      c.as_of, page, size, (long long)total, to >= total ? "true" : "false");
	for (size_t i = 0; i < NCITIES && idx < to; i++)
		for (int k = 0; k < cities[i].ncounties && idx < to; k++) {
			char county[64], ccode[16];
			int n = n_centres(i, k);
			if (!county_served(&c, i, k))
				continue;
			if (idx + n <= from) {
				idx += n;
				continue;
			}
			county_name(&cities[i], k, county, sizeof county, ccode, sizeof ccode);
			for (int j = 0; j < n; j++, idx++) {
				struct centre o;
				char date[16];
				if (idx < from || idx >= to)
					continue;
				centre_at(&c, i, k, j, &o);
				day_date(&c, o.day, date, sizeof date);
				pw_buf_printf(b, "%s{\"unitCode\":\"%s\",\"unitName\":\"%s\",\"unitType\":\"%s\","
						 "\"countyCode\":\"%s\",\"countyName\":\"%s\",\"cityName\":\"%s\","
						 "\"status\":\"%s\",\"onlineDate\":%s%s%s,\"peopleBound\":%lld,"
						 "\"certificates\":%lld}",
					      first ? "" : ",", o.code, o.name, o.type, ccode, county,
					      cities[i].name, o.online ? "已上线" : "未上线",
					      o.online ? "\"" : "", o.online ? date : "null", o.online ? "\"" : "",
					      o.bound, o.certs);
				first = 0;
			}
		}
	pw_buf_puts(b, "]}");
}

static void body_edonation(struct pw_buf *b)
{
	struct clock c;
	int first = 1;
	const int64_t year = 365 * DAY_S;

	clock_now(&c);
	pw_buf_printf(b, "{\"errcode\":0,\"errmsg\":\"ok\",\"asOf\":\"%s\",\"data\":[", c.as_of);
	for (size_t i = 0; i < NSTATIONS; i++) {
		char code[16], name[64], date[16];
		size_t city;
		int64_t j = station_joined(&c, i), y = station_year[i < NCITIES ? i : 0];
		int64_t cl = c.s < 0 ? 0 : c.s > year ? year : c.s, from = j > 0 ? j * DAY_S : 0;
		bool joined = c.s >= j * DAY_S;
		long long cases = (long long)(y * cl / year), online = 0;
		if (!station_served(&c, i))
			continue;
		station_name(i, code, sizeof code, name, sizeof name, &city);
		if (joined && cl > from)
			online = (long long)(y * (cl - from) / year);
		day_date(&c, j, date, sizeof date);
		pw_buf_printf(b, "%s{\"stationCode\":\"%s\",\"stationName\":\"%s\",\"cityCode\":\"%s\","
				 "\"cityName\":\"%s\",\"zeroTrip\":\"%s\",\"joinedOn\":%s%s%s,\"cases\":\"%lld\","
				 "\"amountYuan\":\"%lld.00\",\"onlineCases\":\"%lld\","
				 "\"crossProvinceCases\":\"%lld\",\"avgSettleDays\":%.1f}",
			      first ? "" : ",", code, name, cities[city].code, cities[city].name,
			      joined ? "是" : "否", joined ? "\"" : "", joined ? date : "null",
			      joined ? "\"" : "", cases, cases * 545, online, cases * 3 / 20,
			      joined ? 1.0 + 0.5 * (double)(i % 4) : 15.0);
		first = 0;
	}
	pw_buf_puts(b, "]}");
}

/* ---- ledger files (--ledger-dir) ---------------------------------------------- */

#define LEDGER_MAX ((off_t)64 << 20)

static bool ledger_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 200 || n[0] == '.')
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the listing as JSON; 0, or an HTTP status with a message in b */
static unsigned body_ledger_list(struct pw_buf *b)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!ledger_dir || !(d = opendir(ledger_dir))) {
		pw_buf_puts(b, "{\"code\":404,\"msg\":\"no ledger directory\"}");
		return 404;
	}
	while ((e = readdir(d)) && n < 10000) {
		if (!ledger_name_ok(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	pw_buf_puts(b, "[");
	for (size_t i = 0, k = 0; i < n; i++) {
		struct stat st;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", ledger_dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			pw_buf_printf(b, "%s{\"name\":\"%s\",\"size\":%lld}", k++ ? "," : "", names[i],
				      (long long)st.st_size);
		free(names[i]);
	}
	free(names);
	pw_buf_puts(b, "]");
	return 0;
}

/* one file; 0 with its bytes in b, or an HTTP status with a message */
static unsigned body_ledger_file(struct pw_buf *b, const char *name, const char **ctype)
{
	char path[4096];
	struct stat st;
	int fd;
	size_t len = strlen(name);

	if (!ledger_dir || !ledger_name_ok(name)) {
		pw_buf_printf(b, "{\"code\":404,\"msg\":\"no such ledger\"}");
		return 404;
	}
	snprintf(path, sizeof path, "%s/%s", ledger_dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		pw_buf_printf(b, "{\"code\":404,\"msg\":\"no such ledger\"}");
		return 404;
	}
	if (st.st_size > LEDGER_MAX) {
		close(fd);
		pw_buf_printf(b, "{\"code\":500,\"msg\":\"ledger larger than 64 MiB\"}");
		return 500;
	}
	for (;;) {
		char chunk[65536];
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r <= 0)
			break;
		pw_buf_append(b, chunk, (size_t)r);
	}
	close(fd);
	if (len > 5 && strcmp(name + len - 5, ".xlsx") == 0)
		*ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
	else if (len > 4 && strcmp(name + len - 4, ".csv") == 0)
		*ctype = "text/csv";
	else
		*ctype = "application/octet-stream";
	return 0;
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
	static int request_seen;
	(void)cls; (void)version; (void)upload; (void)upload_size;

	/* Answer on the second call, once the whole request is in: a response
	 * queued on the first call makes libmicrohttpd close the connection,
	 * and platforms keep theirs open for the next request. */
	if (*con_cls == NULL) {
		*con_cls = &request_seen;
		return MHD_YES;
	}
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
	else if (strcmp(url, "/registry/api/v1/institutions") == 0)
		ep = EP_REGISTRY;
	else if (strcmp(url, "/evacc/api/v1/counties") == 0)
		ep = EP_EVACC;
	else if (strcmp(url, "/evacc/api/v1/centres") == 0)
		ep = EP_EVACC_CENTRES;
	else if (strcmp(url, "/edonation/api/v1/stations") == 0)
		ep = EP_EDONATION;
	else if (strncmp(url, "/ledgers/", 9) == 0)
		ep = EP_LEDGERS;
	else if (strncmp(url, "/bench/t/", 9) == 0 || strncmp(url, "/bench/p/", 9) == 0) {
		/* benchmark targets (tools/bench-collector): 200 changing series each, as
		 * JSON (/bench/t/N) or in the Prometheus text format (/bench/p/N) */
		bool text = url[7] == 'p';
		unsigned long call;
		int t = atoi(url + 9);
		pthread_mutex_lock(&lock);
		call = ++bench_requests;
		pthread_mutex_unlock(&lock);
		pw_buf_puts(&b, text ? "# HELP bench_value A benchmark series.\n"
				       "# TYPE bench_value gauge\n"
				     : "{\"data\":[");
		for (int i = 0; i < 200; i++) {
			unsigned long v = (unsigned long)t * 1000 + call * 7 + (unsigned long)i;
			if (text)
				pw_buf_printf(&b, "bench_value{series=\"s%03d\"} %lu\n", i, v);
			else
				pw_buf_printf(&b, "%s{\"id\":\"s%03d\",\"value\":%lu}", i ? "," : "",
					      i, v);
		}
		if (!text)
			pw_buf_puts(&b, "]}");
		return reply(conn, 200, text ? "text/plain; version=0.0.4; charset=utf-8" : ctype, &b,
			     F_NONE);
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
	case EP_REGISTRY: {
		const char *type = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "type");
		if (type && strcmp(type, "township_centre") != 0 && strcmp(type, "blood_station") != 0) {
			char shown[68];
			snprintf(shown, sizeof shown, "%.64s", type); /* bounded; may cut a character */
			pw_buf_puts(&b, "{\"code\":400,\"msg\":\"unknown type (township_centre, blood_station)\",\"type\":");
			pw_buf_json_string(&b, shown);
			pw_buf_puts(&b, "}");
			return reply(conn, 400, ctype, &b, F_NONE);
		}
		body_registry(&b, type, page_arg(conn, "page", 1, 1000000), page_arg(conn, "size", 500, 1000));
		break;
	}
	case EP_EVACC: body_evacc_counties(&b); break;
	case EP_EVACC_CENTRES:
		body_evacc_centres(&b, page_arg(conn, "pageNo", 1, 1000000),
				   page_arg(conn, "pageSize", 200, 1000));
		break;
	case EP_EDONATION: body_edonation(&b); break;
	case EP_LEDGERS: {
		unsigned st = url[9] ? body_ledger_file(&b, url + 9, &ctype) : body_ledger_list(&b);
		if (st)
			return reply(conn, st, "application/json; charset=utf-8", &b, F_NONE);
		break;
	}
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
	const char *listen = "127.0.0.1:18080", *port_file = NULL, *start = "2025-01-01", *plays = NULL;
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
		else if (strcmp(a, "--plays") == 0) plays = v;
		else if (strcmp(a, "--ledger-dir") == 0) ledger_dir = v;
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
		plays_ms = sim_start_ms;
		if (plays && pw_parse_time(plays, tz, &plays_ms) != 0) {
			fprintf(stderr, "simulator: --plays: bad time %s\n", plays);
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
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			     /* a client per target keeps a connection per target open
			      * (tools/bench-collector: 1000 of them) */
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_END);
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
	printf("simulator: serving on http://%s:%d (seed %llu, %.0fx, from %s playing %s); token %s\n",
	       host, port, (unsigned long long)seed, accel, start, plays ? plays : start, token);
	fflush(stdout);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	return 0;
}
