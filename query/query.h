/*
 * query.h — the PromQL engine: a parser whose errors point at the fault, and
 * an evaluator over store snapshots with Prometheus 2.42's semantics
 * (lookback delta, staleness, step alignment, vector matching, the function
 * library), limits on nesting, loaded samples, memory and time.
 */
#ifndef PW_QUERY_H
#define PW_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- selectors ------------------------------------------------------------- */

/* The series selectors `pacewatch dump --match` and the API's match[] take,
 * parsed by the same parser. */

/* Parse a series selector into matchers (a metric name becomes a
 * __name__ equality matcher). On success *out is a new array of *n
 * initialised matchers; free with query_matchers_free(). On failure returns
 * PW_EINVAL and sets *cause to a new message naming the column. */
int query_parse_selector(const char *s, struct store_matcher **out, size_t *n, char **cause);
void query_matchers_free(struct store_matcher *m, size_t n);

/* ---- errors ------------------------------------------------------------------ */

/* Prometheus' error types, with the HTTP status its API answers them with. */
enum query_errtype {
	QUERY_OK = 0,
	QUERY_ERR_BAD_DATA,  /* 400: parse errors, bad parameters */
	QUERY_ERR_EXECUTION, /* 422: errors while evaluating, too many samples */
	QUERY_ERR_TIMEOUT,   /* 503 */
	QUERY_ERR_CANCELED,  /* 503 */
	QUERY_ERR_INTERNAL,  /* 500: the store failed */
	QUERY_ERR_UNAVAILABLE, /* 503: the queries running now hold all the memory they may */
};
const char *query_errtype_name(enum query_errtype t);
int query_errtype_status(enum query_errtype t);

struct query_error {
	enum query_errtype type;
	char *msg;  /* new string, "1:5: parse error: ..." for parse errors */
	int pos;    /* byte offset of the fault in the query, -1 if none */
};
void query_error_clear(struct query_error *e);
/* The query's line holding byte pos with a caret under it (new string). */
char *query_caret(const char *q, int pos);

/* ---- memory ------------------------------------------------------------------ */

/* A query's memory, counted in bytes: its parse, every block of its
 * evaluation's arena and read buffers, and what its caller adds (the API's
 * JSON answer). An account may share a budget with the accounts of other
 * queries running at the same time: the total of all of them. Thread-safe. */
struct query_budget;
struct query_budget *query_budget_new(void);
void query_budget_free(struct query_budget *b);
/* The total all accounts may hold (0: no limit) and how many queries may
 * run at once (0: no limit); may change while queries run. */
void query_budget_set(struct query_budget *b, uint64_t max_bytes, int max_running);
uint64_t query_budget_used(struct query_budget *b);
/* A place among the queries that run at once: waits (in no particular order)
 * until one is free or deadline_ns (pw_mono_ns) passes: then
 * QUERY_ERR_TIMEOUT, "query timed out in query queue", as Prometheus'. */
int query_budget_enter(struct query_budget *b, int64_t deadline_ns, struct query_error *err);
void query_budget_leave(struct query_budget *b);
/* The daemon's stop: every query of an account sharing b, running or
 * waiting for a place, ends at its next check of the clock (within
 * milliseconds) with QUERY_ERR_CANCELED, "query canceled: pacewatch is
 * stopping", and later ones are refused so, so that the HTTP server's
 * threads can be joined. Queries without b (rules, KPIs) are not touched. */
void query_budget_stop(struct query_budget *b);

struct query_mem {
	uint64_t used;  /* bytes charged */
	uint64_t limit; /* this query's limit; 0: none */
	struct query_budget *shared; /* NULL: none */
};
/* Has m's budget been stopped? (false without a budget) */
bool query_mem_stopped(const struct query_mem *m);
/* Charge n bytes before they are allocated: 0, or PW_ETOOBIG with err
 * (new message) of type execution (422) past the query's limit, or
 * unavailable (503) past the shared total. Nothing is charged on failure. */
int query_mem_charge(struct query_mem *m, uint64_t n, struct query_error *err);
/* Give back n bytes (all it holds: m->used). */
void query_mem_release(struct query_mem *m, uint64_t n);

/* ---- parsing ------------------------------------------------------------------ */

/* How deep an expression may nest: the whole expression is level 1; each
 * parenthesis, function or aggregation argument, operand of a unary
 * operator, right-hand operand of a binary operator and subquery is one
 * level deeper. A chain of binary operators (1 + 1 + ..., x or y or ...)
 * is as deep as its deepest operand, however long. Deeper is a parse error,
 * "expression nested deeper than 256 levels". */
#define QUERY_MAX_DEPTH 256

struct query_expr;
enum query_type { QUERY_SCALAR, QUERY_VECTOR, QUERY_MATRIX, QUERY_STRING };
const char *query_type_name(enum query_type t);

/* Parse and type-check. Errors: PW_EINVAL with err (type bad_data). */
int query_parse(const char *q, struct query_expr **out, struct query_error *err);
struct query_opts;
/* The same within a query's limits (o may be NULL): the parse is charged
 * to o->mem and stops at o->deadline_ns. Errors: PW_EINVAL with err, of
 * type bad_data, or execution, unavailable or timeout for a limit. */
int query_parse_opts(const char *q, const struct query_opts *o, struct query_expr **out,
		     struct query_error *err);
void query_expr_free(struct query_expr *x);
enum query_type query_expr_type(const struct query_expr *x);
/* What every evaluation of x would refuse, whatever the data (a regular
 * expression or a label name given as a string literal to label_replace,
 * label_join or count_values): 0, or PW_EINVAL and *cause (new string, the
 * evaluator's message). */
int query_check_static(const struct query_expr *x, char **cause);
/* True when the expression is a plain series selector (metric{...}). */
bool query_expr_is_selector(const struct query_expr *x);

/* ---- evaluation ------------------------------------------------------------------ */

struct query_opts {
	int64_t lookback_ms;   /* 0: 5 minutes */
	uint64_t max_samples;  /* 0: 50,000,000 (Prometheus' default) */
	int64_t timeout_ms;    /* 0: 2 minutes */
	/* the time (pw_mono_ns) the query must end by, parsing included;
	 * 0: timeout_ms from the start of the evaluation */
	int64_t deadline_ns;
	uint64_t max_bytes;    /* memory one evaluation may hold; 0: 1 GiB */
	/* the account to charge instead (the caller's, which may share a
	 * budget: the API charges parse, evaluation and JSON to one); NULL:
	 * one of max_bytes per evaluation */
	struct query_mem *mem;
	/* staleness markers do not end a series: an instant selector takes the
	 * newest real sample within the lookback (KPIs read values this way,
	 * so a failed scrape does not hide a unit before stale_after) */
	bool ignore_stale;
	/* threads a range function over many series (rate(x[5m]),
	 * avg_over_time(...), ...) may evaluate on, this one included: 0 the
	 * processors online, at most 8; 1 only this thread. The answer is the
	 * same whatever the number. */
	unsigned threads;
};

struct query_point {
	int64_t t;
	double v;
};

struct query_series {
	const struct pw_label *labels; /* sorted by name */
	size_t nlabels;
	const struct query_point *pts;
	size_t n;
};

/* A result owns all its memory. Vector: one point per series, at the
 * evaluation time. Matrix: ascending points. Scalar/string: scalar or str
 * at time t. Range queries give a matrix sorted by labels. */
struct query_result {
	enum query_type type;
	struct query_series *series;
	size_t nseries;
	double scalar;
	const char *str;
	int64_t t;
	void *mem;
};
void query_result_free(struct query_result *r);

/* Evaluate at one time (ms). */
int query_exec_instant(struct store *st, const struct query_opts *o, const struct query_expr *x,
		       int64_t t, struct query_result **out, struct query_error *err);
/* Evaluate at start, start+step, ... <= end. Only scalar and instant-vector
 * expressions (bad_data otherwise). */
int query_exec_range(struct store *st, const struct query_opts *o, const struct query_expr *x,
		     int64_t start, int64_t end, int64_t step, struct query_result **out,
		     struct query_error *err);
/* The expression over the window [t - range_ms, t] as a matrix: a plain
 * selector (query_expr_is_selector) reads its own samples, as x[range]
 * does; any other instant-vector expression is evaluated every step_ms, as
 * the subquery (x)[range:step] is (step 0: one minute). */
int query_exec_window(struct store *st, const struct query_opts *o, const struct query_expr *x,
		      int64_t t, int64_t range_ms, int64_t step_ms, struct query_result **out,
		      struct query_error *err);
/* predict_linear's least-squares line through the points, read dt_s
 * seconds after t_ms (the evaluation time the fit is anchored at). False
 * with fewer than two points. */
bool query_predict_linear(const struct query_point *p, size_t n, int64_t t_ms, double dt_s,
			  double *out);
/* Tests only: how long a query evaluates alone before its helper threads
 * start (query_opts.threads; default 1 ms, so that a small query starts
 * none). */
extern int64_t query__par_alone_ns;
/* Parse and evaluate in one call. */
int query_instant(struct store *st, const struct query_opts *o, const char *q, int64_t t,
		  struct query_result **out, struct query_error *err);
int query_range(struct store *st, const struct query_opts *o, const char *q, int64_t start,
		int64_t end, int64_t step, struct query_result **out, struct query_error *err);

#endif /* PW_QUERY_H */
