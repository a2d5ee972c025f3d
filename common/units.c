/*
 * units.c — durations ("1h30m", Prometheus syntax) and sizes ("512MiB").
 * Cursor-style parsing with overflow checks; no atoi/sscanf.
 */
#include "common.h"

#include <string.h>

struct unit {
	const char *name;
	int64_t mult;
};

/* Prometheus order: each unit at most once, largest first. */
static const struct unit dur_units[] = {
	{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
	{"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
	{"m", 60LL * 1000},              {"s", 1000},
	{"ms", 1},
};

int pw_parse_duration(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t total = 0;
	size_t next_unit = 0;

	if (!s || !*s)
		return PW_EINVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		int64_t n = 0;
		size_t u, best = SIZE_MAX, bestlen = 0;

		if (*p < '0' || *p > '9')
			return PW_EINVAL;
		while (*p >= '0' && *p <= '9') {
			if (n > (INT64_MAX - (*p - '0')) / 10)
				return PW_EINVAL;
			n = n * 10 + (*p - '0');
			p++;
		}
		for (u = next_unit; u < sizeof dur_units / sizeof dur_units[0]; u++) {
			size_t l = strlen(dur_units[u].name);
			/* "ms" must win over "m" followed by garbage */
			if (strncmp(p, dur_units[u].name, l) == 0 && l > bestlen &&
			    !(l == 1 && p[0] == 'm' && p[1] == 's')) {
				best = u;
				bestlen = l;
			}
		}
		if (best == SIZE_MAX)
			return PW_EINVAL;
		if (n > INT64_MAX / dur_units[best].mult ||
		    total > INT64_MAX - n * dur_units[best].mult)
			return PW_EINVAL;
		total += n * dur_units[best].mult;
		p += bestlen;
		next_unit = best + 1;
	}
	*ms = total;
	return 0;
}

size_t pw_fmt_duration(char *dst, size_t dstsz, int64_t ms)
{
	size_t o = 0;

	if (dstsz == 0)
		return 0;
	if (ms == 0)
		return (size_t)snprintf(dst, dstsz, "0s");
	dst[0] = '\0';
	if (ms < 0) {
		o += (size_t)snprintf(dst, dstsz, "-");
		ms = ms == INT64_MIN ? INT64_MAX : -ms;
	}
	for (size_t u = 0; u < sizeof dur_units / sizeof dur_units[0]; u++) {
		int64_t n = ms / dur_units[u].mult;
		if (n == 0)
			continue;
		ms -= n * dur_units[u].mult;
		if (o < dstsz)
			o += (size_t)snprintf(dst + o, dstsz - o, "%lld%s", (long long)n,
					      dur_units[u].name);
	}
	return o < dstsz ? o : dstsz - 1;
}

static const struct unit size_units[] = {
	{"B", 1},
	{"kB", 1000},
	{"KB", 1000},
	{"KiB", 1024},
	{"MB", 1000LL * 1000},
	{"MiB", 1024LL * 1024},
	{"GB", 1000LL * 1000 * 1000},
	{"GiB", 1024LL * 1024 * 1024},
	{"TB", 1000LL * 1000 * 1000 * 1000},
	{"TiB", 1024LL * 1024 * 1024 * 1024},
};

int pw_parse_size(const char *s, uint64_t *bytes)
{
	const char *p = s;
	uint64_t n = 0;

	if (!s || *s < '0' || *s > '9')
		return PW_EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return PW_EINVAL;
		n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (*p == '\0') {
		*bytes = n;
		return 0;
	}
	for (size_t u = 0; u < sizeof size_units / sizeof size_units[0]; u++) {
		if (strcmp(p, size_units[u].name) == 0) {
			if (n > UINT64_MAX / (uint64_t)size_units[u].mult)
				return PW_EINVAL;
			*bytes = n * (uint64_t)size_units[u].mult;
			return 0;
		}
	}
	return PW_EINVAL;
}
