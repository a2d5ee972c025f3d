/*
 * query_int.h — what the files of query/ share (parse.c, eval.c, func.c,
 * util.c): the arena, label-set operations, the syntax tree and the
 * evaluator's values. Nothing outside query/ includes it.
 */
#ifndef PW_QUERY_INT_H
#define PW_QUERY_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "query.h"

/* the error of a query its budget's stop ended (query_budget_stop) */
#define QUERY_STOPPED_MSG "query canceled: pacewatch is stopping"

/* ---- qarena: every allocation of a parse or an evaluation ----------------- */

struct qarena {
	struct qarena_blk *head;
	void *last;      /* the newest allocation, which qarena_grow extends in place */
	size_t last_len;
	/* when mem is set, every block is charged to it before it is
	 * allocated; a refusal goes to refuse(ctx, e), which does not return
	 * (it unwinds the parse or the evaluation) */
	struct query_mem *mem;
	void (*refuse)(void *ctx, struct query_error *e);
	void *ctx;
	size_t bytes; /* of all its blocks */
};
void *qarena_alloc(struct qarena *a, size_t n);           /* zeroed */
void *qarena_grow(struct qarena *a, void *p, size_t old, size_t n); /* like realloc */
char *qarena_strndup(struct qarena *a, const char *s, size_t n);
char *qarena_strdup(struct qarena *a, const char *s);
void qarena_free(struct qarena *a);

/* The lowest address the calling thread's stack may reach, with room to
 * spare (0: unknown). The parser bounds the depth of what recurses; on a
 * thread with a small stack the frames check this too, so that no query
 * overflows it whatever the thread. */
uintptr_t qstack_floor(void);
static inline bool qstack_low(uintptr_t floor)
{
	return floor && (uintptr_t)__builtin_frame_address(0) < floor;
}

/* the default of query_opts.max_bytes */
#define QUERY_DEFAULT_MAX_BYTES ((uint64_t)1 << 30)

/* a - b and a + b held to int64's range: times from outside (the API's,
 * @'s) meet offsets, ranges and lookbacks without overflowing */
static inline int64_t qsat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

static inline int64_t qsat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* ---- label sets ----------------------------------------------------------------- */

/* Label sets are common's struct pw_lset; those an evaluation makes are
 * placed in its arena and borrow their strings. Their hash is Prometheus'
 * fingerprint, whose low bits are weak: tables index by qlabels_slot. */
struct pw_lset *qlabels_make(struct qarena *a, const struct pw_label *l, size_t n); /* sorts */
/* name dropped; returns s itself when it has no name */
struct pw_lset *qlabels_drop_name(struct qarena *a, const struct pw_lset *s);
/* keep (on) or drop (!on, also dropping __name__) the given names */
struct pw_lset *qlabels_project(struct qarena *a, const struct pw_lset *s, bool on, char **names,
				size_t n);
/* the hash of the labels qlabels_project keeps: vector matching's signature */
uint64_t qlabels_sig(const struct pw_lset *s, bool on, char **names, size_t n);
/* a slot in a table of cap (a power of two) entries for hash h */
static inline size_t qlabels_slot(uint64_t h, size_t cap)
{
	return (size_t)(h ^ h >> 29) & (cap - 1);
}

/* ---- syntax tree ----------------------------------------------------------------- */

enum vtype { T_SCALAR, T_VECTOR, T_MATRIX, T_STRING, T_NONE };

enum node_kind { N_NUM, N_STR, N_VSEL, N_MSEL, N_SUBQ, N_PAREN, N_UNARY, N_BIN, N_AGG, N_CALL };

enum binop {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW, OP_ATAN2,
	OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE,
	OP_AND, OP_OR, OP_UNLESS,
};
#define OP_IS_CMP(o) ((o) >= OP_EQ && (o) <= OP_LE)
#define OP_IS_SET(o) ((o) >= OP_AND)

enum aggop {
	AG_SUM, AG_AVG, AG_COUNT, AG_MIN, AG_MAX, AG_GROUP, AG_STDDEV, AG_STDVAR,
	AG_TOPK, AG_BOTTOMK, AG_QUANTILE, AG_COUNT_VALUES,
};

enum card { CARD_ONE_ONE, CARD_MANY_ONE, CARD_ONE_MANY, CARD_MANY_MANY };

struct func;

enum at_kind { AT_NONE, AT_TS, AT_START, AT_END };

struct node {
	enum node_kind k;
	enum vtype type;
	int pos, end; /* byte offsets into the query */
	double num;
	char *str;
	/* selectors and subqueries */
	char *metric;
	struct store_matcher *m;
	size_t nm;
	int64_t offset;
	enum at_kind at;
	int64_t at_ts;
	int64_t range, step; /* matrix selector / subquery (step 0: default) */
	/* children */
	struct node *a, *b;
	int op;
	bool ret_bool;
	/* vector matching */
	enum card card;
	bool on, has_matching;
	char **mlabels;
	size_t nmlabels;
	char **include;
	size_t ninclude;
	/* aggregation */
	bool without;
	char **grouping;
	size_t ngrouping;
	struct node *param;
	/* call */
	const struct func *fn;
	struct node **args;
	size_t nargs;
};

struct query_expr {
	struct qarena a;
	struct node *root;
	struct store_matcher **mlists; /* to free the compiled regexes */
	size_t *mlens;
	size_t nmlists;
};

/* ---- values ------------------------------------------------------------------ */

struct pt {
	int64_t t;
	double v;
};

struct ser {
	struct pw_lset *ls;
	struct pt *p;
	uint32_t n, cap;
};

struct mat {
	struct ser *s;
	size_t n, cap;
};

struct val {
	enum vtype type;
	struct mat m;   /* vector (points at steps) or matrix */
	double *sc;     /* scalar: one per step */
	char *str;
};

/* ---- evaluation --------------------------------------------------------------- */

struct ev {
	struct qarena *a;
	struct store_snap *snap;
	struct store_iter *it;
	int64_t start, end, interval; /* this (sub)evaluation's steps */
	size_t nsteps;
	int64_t qstart, qend; /* the query's, for start() and end() */
	int64_t lookback;
	bool ignore_stale; /* query_opts.ignore_stale */
	uint64_t max_samples, samples;
	int64_t deadline_ns;
	const struct query_mem *mem; /* the caller's account: query_budget_stop */
	unsigned tick;
	uintptr_t stack_floor; /* qstack_floor() */
	jmp_buf *jb;
	enum query_errtype etype;
	char *emsg;
	void *scratch;
	struct ev *root; /* where errors are recorded (subqueries copy their ev) */
	unsigned threads; /* query_opts.threads, resolved: at least 1 */
	/* what an error must free before it unwinds (on root): the helper
	 * threads and buffers of the range function evaluated in parallel */
	void (*cleanup)(void *);
	void *cleanup_arg;
	/* an aggregation to feed instead of returning a vector (agg_sink_put):
	 * set by eval_agg just before it evaluates its argument, taken (and
	 * cleared) first thing by range_call and eval_vsel_as */
	struct agg_sink *sink;
};

/* step k's time, and the step of a time at a step: taken unsigned, where
 * start + k * interval (at most end) cannot overflow on the way */
static inline int64_t step_ts(const struct ev *ev, size_t k)
{
	return (int64_t)((uint64_t)ev->start + (uint64_t)k * (uint64_t)ev->interval);
}

static inline size_t step_of(const struct ev *ev, int64_t t)
{
	return (size_t)(((uint64_t)t - (uint64_t)ev->start) / (uint64_t)ev->interval);
}

/* the value of series s at step time ts, advancing its cursor */
static inline bool at_step(const struct ser *s, size_t *c, int64_t ts, double *v)
{
	if (*c < s->n && s->p[*c].t == ts) {
		*v = s->p[(*c)++].v;
		return true;
	}
	return false;
}

/* the time a selector or subquery reads at for step time ts (@, offset) */
int64_t ref_time(const struct ev *ev, const struct node *sel, int64_t ts);
struct val scalar_val(struct ev *ev);

/* Series matching a selector with data in [mint, maxt], their label sets. */
struct selres {
	struct store_series *s;
	struct pw_lset **ls;
	size_t n;
};
struct selres select_series(struct ev *ev, const struct node *vs, int64_t mint, int64_t maxt);
/* samples a read of the store takes at once (store_iter_read into arrays
 * on the stack: 4 KiB) */
#define LOAD_RUN 256
/* points of one series in [mint, maxt] (a scratch buffer, valid until the
 * next call) */
size_t load_points(struct ev *ev, uint64_t id, int64_t mint, int64_t maxt, bool skip_stale,
		   struct pt **out);
/* a subquery's matrix for windows ending between first and last */
struct val eval_subq_between(struct ev *ev, struct node *n, int64_t first, int64_t last);
double quantile_of(double q, double *v, size_t n);

_Noreturn void ev_fail(struct ev *ev, enum query_errtype t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ev_tick(struct ev *ev);      /* every 1024 calls: ev_check_time */
void ev_check_time(struct ev *ev); /* past the deadline: a timeout */
void ev_charge(struct ev *ev, size_t n); /* n more bytes (outside the arena) */
void ev_account(struct ev *ev, size_t n);

void ser_push(struct ev *ev, struct ser *s, int64_t t, double v);
/* room for n points in all (a series at steps never has more than nsteps) */
void ser_reserve(struct ev *ev, struct ser *s, size_t n);

/* the staleness marker, without a call per sample */
static inline bool is_stale(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return b == STORE_STALE_NAN_BITS;
}
struct ser *mat_add(struct ev *ev, struct mat *m, struct pw_lset *ls);

/* output builder: series keyed by label set */
struct outb {
	struct mat m;
	size_t *tab; /* open addressing: index+1 */
	size_t cap;
};
size_t outb_find(struct ev *ev, struct outb *o, struct pw_lset *ls); /* index, adding */
void outb_put(struct ev *ev, struct outb *o, size_t idx, int64_t t, double v);

/* ---- helper threads (par.c) ------------------------------------------------- */

/* threads one evaluation may use, the evaluating one included */
#define QUERY_MAX_THREADS 8
/* query_opts.threads 0: the processors online, at most this */
#define QUERY_DEFAULT_THREADS_MAX 8
unsigned query_threads_default(void);
struct qpool;
/* Up to want - 1 helper threads (fewer, or NULL for none, when the
 * process' bound on helpers is reached or want < 2), which run fn(ctx, w,
 * i) with w 1..; the calling thread is worker 0. fn must not unwind
 * (longjmp) nor touch the arena. */
struct qpool *qpool_start(unsigned want, void (*fn)(void *ctx, unsigned w, size_t i), void *ctx);
unsigned qpool_workers(const struct qpool *p); /* the caller included; 1 for NULL */
/* fn for every i in [lo, hi), on the helpers and the calling thread; returns
 * when all are done (what the items wrote is then visible to the caller) */
void qpool_run(struct qpool *p, size_t lo, size_t hi);
void qpool_stop(struct qpool *p); /* joins the helpers; NULL: nothing */

/* An aggregation (sum, avg, count, min, max, group, stddev, stdvar) fed
 * its input series by series, in their order, without the input vector
 * being made (eval.c): ls the series' labels, p its points at steps. */
struct agg_sink;
void agg_sink_take(struct agg_sink *k); /* it will be fed (then it is the answer) */
void agg_sink_put(struct ev *ev, struct agg_sink *k, struct pw_lset *ls, const struct pt *p,
		  size_t n);

/* range_call of n can feed an aggregation's sink (func.c) */
bool range_call_feeds(const struct node *n);
/* fewer series than this: no helper threads */
#define QUERY_PAR_MIN_SERIES 32
/* eval_vsel_as over the selected series sr on the query's threads (func.c) */
struct val vsel_par(struct ev *ev, struct node *vs, bool timestamps, const struct selres *sr,
		    int64_t mint, int64_t maxt, struct agg_sink *sink);

/* functions (func.c) */
enum func_kind { F_VEC, F_RANGE, F_SPECIAL };
struct func {
	const char *name;
	int id;
	enum func_kind kind;
	enum vtype ret;
	int nargs;    /* arguments, optional ones included */
	int optional; /* how many of the last may be left out; -1: the last repeats */
	enum vtype args[5];
	/* F_VEC: the value for one element, given the scalar arguments */
	double (*vf)(double v, const double *sargs);
	/* F_RANGE: the value over one window [ref - range, ref] (at least one
	 * point); false drops the element */
	bool (*rf)(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		   int64_t range, const double *sargs, double *out);
};
const struct func *func_lookup(const char *name, size_t n);
struct val eval_call(struct ev *ev, struct node *n);
struct val eval(struct ev *ev, struct node *n);
struct val eval_vsel_as(struct ev *ev, struct node *n, bool timestamps);
struct pw_lset *absent_labels(struct ev *ev, struct node *arg);

/* Go's math.Max and math.Min: NaN, infinities and signed zeros as Go has them */
double go_max(double a, double b);
double go_min(double a, double b);

#endif
