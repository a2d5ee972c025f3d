/*
 * log.c — leveled, subsystem-prefixed log lines, plus the escaping of
 * untrusted text before it reaches a log or an error message.
 * Levels are checked before formatting (see pw_log in common.h).
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

int pw_log_level_cur = PW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void pw_log_set_level(enum pw_log_level level) { pw_log_level_cur = (int)level; }

int pw_log_level_parse(const char *s, enum pw_log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum pw_log_level)i;
			return 0;
		}
	}
	return PW_EINVAL;
}

/* -1: not known yet, 0: a terminal or a file, 1: the journal */
static int journal = -1;

void pw_log_reset_journal(void) { journal = -1; }

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connected to
 * stderr (systemd.exec(5)); only when it is still our stderr do we write
 * for the journal */
static bool to_journal(FILE *f)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fileno(f), &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* the line's start: "<time> level=L component=C " or, for the journal,
 * "<prio>level=L component=C " (called with log_lock held) */
static void line_start(FILE *f, enum pw_log_level level, const char *subsys)
{
	static const int prio[] = {3, 4, 6, 7}; /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	char ts[40];
	struct timespec now;
	struct tm tm;

	if (journal < 0)
		journal = to_journal(f);
	if (journal) {
		fprintf(f, "<%d>", prio[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f, "%s.%03ldZ ", ts, now.tv_nsec / 1000000L);
	}
	fprintf(f, "level=%s component=%s ", level_names[level], subsys);
}

/* msg="...": escapes made by pw_esc (a backslash and the next character)
 * pass through; quotes and control characters left are escaped here */
static void put_quoted(FILE *f, const char *s)
{
	fputs("msg=\"", f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' && (unsigned char)s[1] >= 0x20 && s[1] != 0x7f) {
			fputc(ch, f);
			fputc(*++s, f);
		} else if (ch == '\\') {
			fputs("\\\\", f);
		} else if (ch == '"') {
			fputs("\\\"", f);
		} else if (ch == '\n') {
			fputs("\\n", f);
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(f, "\\x%02x", ch);
		} else {
			fputc(ch, f);
		}
	}
	fputc('"', f);
}

void pw_log_emit(enum pw_log_level level, const char *subsys, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	FILE *f = stderr;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	line_start(f, level, subsys);
	put_quoted(f, buf);
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&log_lock);
}

void pw_log_emit_kv(enum pw_log_level level, const char *subsys, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	FILE *f = stderr;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* one event, one line, whatever the caller formatted */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&log_lock);
	line_start(f, level, subsys);
	fputs(buf, f);
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&log_lock);
}

size_t pw_utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0) {
		len = 2;
		cp = p[0] & 0x1F;
	} else if ((p[0] & 0xF0) == 0xE0) {
		len = 3;
		cp = p[0] & 0x0F;
	} else if ((p[0] & 0xF8) == 0xF0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

char *pw_esc(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (dstsz == 0)
		return dst;
	while (i < srclen) {
		char tmp[8];
		size_t tl = 0, ul;

		if (s[i] == '\\' || s[i] == '"') {
			tmp[tl++] = '\\';
			tmp[tl++] = (char)s[i];
			ul = 1;
		} else if (s[i] == '\n') {
			tmp[tl++] = '\\';
			tmp[tl++] = 'n';
			ul = 1;
		} else if (s[i] < 0x20 || s[i] == 0x7f ||
			   (ul = pw_utf8_len(s + i, srclen - i)) == 0) {
			tmp[tl++] = '\\';
			tmp[tl++] = 'x';
			tmp[tl++] = hex[s[i] >> 4];
			tmp[tl++] = hex[s[i] & 15];
			ul = 1;
		} else {
			memcpy(tmp, s + i, ul);
			tl = ul;
		}
		if (o + tl + 4 > dstsz) { /* keep room for "..." and NUL */
			if (dstsz >= 4) {
				if (o + 3 >= dstsz)
					o = dstsz - 4;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, tmp, tl);
		o += tl;
		i += ul;
	}
	dst[o < dstsz ? o : dstsz - 1] = '\0';
	return dst;
}

const char *pw_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case PW_EINVAL: return "invalid input";
	case PW_ETOOBIG: return "limit exceeded";
	case PW_EMAPFULL: return "store is full (storage.max_size reached)";
	case PW_EFORMAT: return "not a pacewatch store of a supported format";
	case PW_ESTORE: return "storage failure";
	case PW_EPOISONED: return "batch refused after an earlier error";
	case PW_ENOTFOUND: return "not found";
	default: break;
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
