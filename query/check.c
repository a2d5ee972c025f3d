/*
 * check.c — what evaluating an expression refuses whatever the data, said
 * before any evaluation: the string arguments of label_replace, label_join
 * and count_values are literals, so a regular expression that does not
 * compile or a label name that is not one fails every evaluation. The
 * configuration's checks call it (alerts_check_expr), so check-config and
 * run refuse a rule or a KPI whose first evaluation would fail. The
 * messages are the evaluator's (func.c, eval.c). The walk keeps its own
 * stack: its memory is a pointer per node of the parsed tree.
 */
#include "query_int.h"

#include <stdlib.h>
#include <string.h>

static const char *lit(const struct node *n)
{
	while (n && n->k == N_PAREN)
		n = n->a;
	return n && n->k == N_STR && n->str ? n->str : NULL;
}

static bool label_ok(const char *s) { return !s || pw_valid_label_name(s, strlen(s)); }

/* one node's own literals */
static int check_node(const struct node *n, char **cause)
{
	if (n->k == N_CALL && n->fn && strcmp(n->fn->name, "label_replace") == 0 && n->nargs == 5) {
		const char *dst = lit(n->args[1]), *rx = lit(n->args[4]);
		struct pw_regex *re = rx ? pw_regex_new(rx, false, NULL) : NULL;
		if (rx && !re) {
			*cause = xasprintf("invalid regular expression in label_replace(): %s", rx);
			return PW_EINVAL;
		}
		pw_regex_free(re);
		if (!label_ok(dst)) {
			*cause = xasprintf("invalid destination label name in label_replace(): %s", dst);
			return PW_EINVAL;
		}
	}
	if (n->k == N_CALL && n->fn && strcmp(n->fn->name, "label_join") == 0 && n->nargs >= 3) {
		const char *dst = lit(n->args[1]);
		if (!label_ok(dst)) {
			*cause = xasprintf("invalid destination label name in label_join(): %s", dst);
			return PW_EINVAL;
		}
		for (size_t a = 3; a < n->nargs; a++)
			if (!label_ok(lit(n->args[a]))) {
				*cause = xasprintf("invalid source label name in label_join(): %s",
						   lit(n->args[a]));
				return PW_EINVAL;
			}
	}
	if (n->k == N_AGG && n->op == AG_COUNT_VALUES && !label_ok(lit(n->param))) {
		*cause = xasprintf("invalid label name \"%s\"", lit(n->param));
		return PW_EINVAL;
	}
	return 0;
}

/* every node, with a stack of our own: a chain of binary operators is as
 * deep as it is long (the parser reads it in a loop), so no recursion */
static int walk(const struct node *root, char **cause)
{
	const struct node **st = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
#define PUSH(x)                                                                  \
	do {                                                                     \
		if (x) {                                                         \
			if (n == cap) {                                          \
				cap = cap ? 2 * cap : 64;                        \
				st = xreallocarray(st, cap, sizeof *st);         \
			}                                                        \
			st[n++] = (x);                                           \
		}                                                                \
	} while (0)
	PUSH(root);
	while (n && rc == 0) {
		const struct node *x = st[--n];
		rc = check_node(x, cause);
		PUSH(x->a);
		PUSH(x->b);
		PUSH(x->param);
		for (size_t i = 0; i < x->nargs; i++)
			PUSH(x->args[i]);
	}
#undef PUSH
	free(st);
	return rc;
}

int query_check_static(const struct query_expr *x, char **cause)
{
	*cause = NULL;
	return x ? walk(x->root, cause) : 0;
}
