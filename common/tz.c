/*
 * tz.c — time zones from the system zoneinfo (TZif v1/v2/v3 files), so that
 * "2025-06-30" means local midnight in Asia/Shanghai and calendar quotas
 * can cut periods at local midnight. Thread-safe, unlike setenv("TZ").
 * Instants past the last transition follow the file's POSIX TZ footer.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct posix_rule {       /* "Mm.w.d/time" or "Jn/time" or "n/time" */
	char kind;        /* 'M', 'J' or 'D' */
	int mon, week, wday, day;
	int32_t time;     /* seconds after local midnight */
};

struct pw_tz {
	char *name;
	size_t ntrans;
	int64_t *trans;   /* transition instants, ascending */
	int32_t *trans_off; /* offset in force from trans[i] */
	int32_t first_off; /* before the first transition */
	bool has_footer;
	int32_t std_off, dst_off;
	bool has_dst;
	struct posix_rule start, end;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* POSIX offset "[+-]hh[:mm[:ss]]"; returns seconds WEST of UTC as written. */
static const char *parse_posix_offset(const char *p, int32_t *secs)
{
	int sign = 1, h = 0, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		h = h * 10 + (*p++ - '0');
	if (*p == ':') {
		p++;
		while (*p >= '0' && *p <= '9')
			m = m * 10 + (*p++ - '0');
		if (*p == ':') {
			p++;
			while (*p >= '0' && *p <= '9')
				s = s * 10 + (*p++ - '0');
		}
	}
	if (h > 167)
		return NULL;
	*secs = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *skip_abbr(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p ? p + 1 : NULL;
	}
	const char *q = p;
	while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
		q++;
	return q - p >= 3 ? q : NULL;
}

static const char *parse_rule(const char *p, struct posix_rule *r)
{
	int n = 0;

	memset(r, 0, sizeof *r);
	r->time = 7200;
	if (*p == 'M') {
		r->kind = 'M';
		p++;
		r->mon = (int)strtol(p, (char **)&p, 10);
		if (*p++ != '.')
			return NULL;
		r->week = (int)strtol(p, (char **)&p, 10);
		if (*p++ != '.')
			return NULL;
		r->wday = (int)strtol(p, (char **)&p, 10);
		if (r->mon < 1 || r->mon > 12 || r->week < 1 || r->week > 5 ||
		    r->wday < 0 || r->wday > 6)
			return NULL;
	} else {
		r->kind = 'D';
		if (*p == 'J') {
			r->kind = 'J';
			p++;
		}
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			n = n * 10 + (*p++ - '0');
		r->day = n;
	}
	if (*p == '/') {
		int32_t t;
		p = parse_posix_offset(p + 1, &t);
		if (!p)
			return NULL;
		r->time = t;
	}
	return p;
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Local-time seconds since the epoch (as if UTC) when rule r fires in year y. */
static int64_t rule_local(const struct posix_rule *r, int64_t y)
{
	int64_t days;

	if (r->kind == 'M') {
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int64_t first = pw_days_from_civil(y, (unsigned)r->mon, 1);
		int wd_first = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was Thursday(4) */
		int dim = mdays[r->mon - 1] + (r->mon == 2 && is_leap(y));
		int d = 1 + (r->wday - wd_first + 7) % 7 + (r->week - 1) * 7;
		while (d > dim)
			d -= 7;
		days = first + d - 1;
	} else if (r->kind == 'J') {
		int n = r->day;
		if (is_leap(y) && n >= 60)
			n++;
		days = pw_days_from_civil(y, 1, 1) + n - 1;
	} else {
		days = pw_days_from_civil(y, 1, 1) + r->day;
	}
	return days * 86400 + r->time;
}

static int parse_footer(struct pw_tz *tz, const char *s)
{
	const char *p = skip_abbr(s);
	int32_t off;

	if (!p || !(p = parse_posix_offset(p, &off)))
		return PW_EINVAL;
	tz->std_off = -off;
	tz->has_footer = true;
	if (*p == '\0')
		return 0;
	if (!(p = skip_abbr(p)))
		return PW_EINVAL;
	tz->dst_off = tz->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_posix_offset(p, &off)))
			return PW_EINVAL;
		tz->dst_off = -off;
	}
	if (*p++ != ',' || !(p = parse_rule(p, &tz->start)) || *p++ != ',' ||
	    !(p = parse_rule(p, &tz->end)) || *p)
		return PW_EINVAL;
	tz->has_dst = true;
	return 0;
}

static int32_t footer_offset(const struct pw_tz *tz, int64_t t)
{
	int64_t y, days = t / 86400 - (t % 86400 < 0);
	unsigned m, d;
	int64_t s, e;

	if (!tz->has_dst)
		return tz->std_off;
	pw_civil_from_days(days, &y, &m, &d);
	/* start is given in standard local time, end in daylight local time */
	s = rule_local(&tz->start, y) - tz->std_off;
	e = rule_local(&tz->end, y) - tz->dst_off;
	if (s < e)
		return (t >= s && t < e) ? tz->dst_off : tz->std_off;
	return (t >= e && t < s) ? tz->std_off : tz->dst_off; /* southern hemisphere */
}

int32_t pw_tz_offset(const struct pw_tz *tz, int64_t t)
{
	size_t lo = 0, hi;

	if (tz->ntrans == 0)
		return tz->has_footer ? footer_offset(tz, t) : tz->first_off;
	if (t < tz->trans[0])
		return tz->first_off;
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_footer)
		return footer_offset(tz, t);
	hi = tz->ntrans;
	while (hi - lo > 1) { /* invariant: trans[lo] <= t < trans[hi] */
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->trans_off[lo];
}

int64_t pw_tz_local_to_unix(const struct pw_tz *tz, int year, int mon, int day,
			    int hour, int min, int sec)
{
	int64_t l = pw_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 +
		    hour * 3600 + min * 60 + sec;
	int32_t a, b;
	int64_t ua, ub;
	bool va, vb;

	if (!tz)
		return l;
	a = pw_tz_offset(tz, l - 86400);
	b = pw_tz_offset(tz, l + 86400);
	ua = l - a;
	ub = l - b;
	va = pw_tz_offset(tz, ua) == a;
	vb = pw_tz_offset(tz, ub) == b;
	if (va && vb)
		return ua < ub ? ua : ub;
	if (vb)
		return ub;
	return ua; /* valid, or in a gap: shifted forward by the jump */
}

static int tz_fail(char **cause, int rc, const char *fmt, const char *a)
{
	if (cause)
		*cause = xasprintf(fmt, a);
	return rc;
}

int pw_tz_load(const char *name, struct pw_tz **out, char **cause)
{
	char path[512];
	unsigned char *data = NULL;
	struct pw_tz *tz = NULL;
	struct stat st;
	int fd = -1, rc = PW_EINVAL;
	const unsigned char *p, *lim;
	const char *dir = getenv("TZDIR");
	uint32_t cnt[6];
	size_t tsize = 4;

	if (!name || !*name || name[0] == '/' || strstr(name, ".."))
		return tz_fail(cause, PW_EINVAL, "invalid time zone name \"%s\"",
			       name ? name : "");
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
		tz = xcalloc(1, sizeof *tz);
		tz->name = xstrdup(name);
		*out = tz;
		return 0;
	}
	snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/share/zoneinfo", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (cause)
			*cause = xasprintf("unknown time zone \"%s\" (no %s; is tzdata installed?)",
				 name, path);
		return rc;
	}
	if (fstat(fd, &st) < 0 || st.st_size < 44 || st.st_size > (1 << 20))
		goto bad;
	data = xmalloc((size_t)st.st_size);
	if (read(fd, data, (size_t)st.st_size) != st.st_size)
		goto bad;
	lim = data + st.st_size;
	p = data;
	if (memcmp(p, "TZif", 4) != 0)
		goto bad;
	for (int pass = 0; pass < 2; pass++) {
		size_t need;
		if (lim - p < 44 || memcmp(p, "TZif", 4) != 0)
			goto bad;
		for (int i = 0; i < 6; i++)
			cnt[i] = be32(p + 20 + 4 * i);
		need = cnt[3] * (tsize + 1) + cnt[4] * 6 + cnt[5] + cnt[2] * (tsize + 4) +
		       cnt[1] + cnt[0];
		if ((size_t)(lim - p - 44) < need)
			goto bad;
		if (pass == 0 && data[4] >= '2') { /* skip the 32-bit block */
			p += 44 + need;
			tsize = 8;
			continue;
		}
		p += 44;
		break;
	}
	tz = xcalloc(1, sizeof *tz);
	tz->name = xstrdup(name);
	{
		uint32_t timecnt = cnt[3], typecnt = cnt[4];
		const unsigned char *times = p, *idx = p + timecnt * tsize;
		const unsigned char *types = idx + timecnt;
		if (typecnt == 0)
			goto bad;
		tz->ntrans = timecnt;
		tz->trans = xcalloc(timecnt ? timecnt : 1, sizeof *tz->trans);
		tz->trans_off = xcalloc(timecnt ? timecnt : 1, sizeof *tz->trans_off);
		for (uint32_t i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt)
				goto bad;
			tz->trans[i] = tsize == 8 ? (int64_t)be64(times + 8 * i)
						  : (int64_t)(int32_t)be32(times + 4 * i);
			tz->trans_off[i] = (int32_t)be32(types + 6 * idx[i]);
		}
		tz->first_off = (int32_t)be32(types); /* type 0, per RFC 8536 */
		p = types + typecnt * 6 + cnt[5] + cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
	}
	if (tsize == 8 && p < lim && *p == '\n') {
		const unsigned char *e = memchr(p + 1, '\n', (size_t)(lim - p - 1));
		if (e && e > p + 1) {
			char footer[128];
			size_t fl = (size_t)(e - p - 1);
			if (fl < sizeof footer) {
				memcpy(footer, p + 1, fl);
				footer[fl] = '\0';
				if (parse_footer(tz, footer) != 0)
					tz->has_footer = false;
			}
		}
	}
	close(fd);
	free(data);
	*out = tz;
	return 0;
bad:
	if (cause)
		*cause = xasprintf("time zone \"%s\": %s is not a valid TZif file", name, path);
	if (fd >= 0)
		close(fd);
	free(data);
	pw_tz_free(tz);
	return rc;
}

void pw_tz_free(struct pw_tz *tz)
{
	if (!tz)
		return;
	free(tz->name);
	free(tz->trans);
	free(tz->trans_off);
	free(tz);
}

const char *pw_tz_name(const struct pw_tz *tz) { return tz ? tz->name : "UTC"; }
