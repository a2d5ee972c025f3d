/*
 * query.h — the PromQL engine. So far: series selectors
 * (`name{label="v", other=~"re"}`), as `pacewatch dump --match` and
 * the API's match[] take them. The full engine arrives with the query
 * engine issue.
 */
#ifndef PW_QUERY_H
#define PW_QUERY_H

#include <stddef.h>

#include "store.h"

/* Parse a series selector into matchers (a metric name becomes a
 * __name__ equality matcher). On success *out is a new array of *n
 * initialised matchers; free with query_matchers_free(). On failure returns
 * PW_EINVAL and sets *cause to a new message naming the column. */
int query_parse_selector(const char *s, struct store_matcher **out, size_t *n, char **cause);
void query_matchers_free(struct store_matcher *m, size_t n);

#endif /* PW_QUERY_H */
