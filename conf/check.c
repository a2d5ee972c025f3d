/*
 * check.c — the checks that several sections of the configuration share:
 * a PromQL expression compiles (through the checker the program sets, so
 * conf/ needs no query engine) and a time zone exists. validate.c and
 * notify.c both call them; and a TLS certificate and key load and match.
 */
#include "conf_int.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static conf_expr_checker expr_checker;

void conf_set_expr_checker(conf_expr_checker fn) { expr_checker = fn; }

int conf_check_expr_text(const char *expr, char **cause)
{
	*cause = NULL;
	return expr_checker ? expr_checker(expr, cause) : 0;
}

void conf_check_expr(const char *expr, const char *path, struct conf_errs *errs,
		     const struct posmap *pm)
{
	char *cause = NULL;
	if (expr && expr_checker && expr_checker(expr, &cause) != 0)
		conf_err_at(errs, pm, path, false, "%s", cause ? cause : "invalid expression");
	free(cause);
}

static conf_kpi_checker kpi_checker;

void conf_set_kpi_checker(conf_kpi_checker fn) { kpi_checker = fn; }

struct kpi_report_ctx {
	struct conf_errs *errs;
	const struct posmap *pm;
	const char *path;
};

static void kpi_report(void *vctx, const char *key, const char *msg)
{
	struct kpi_report_ctx *x = vctx;
	char *q = xasprintf("%s.%s", x->path, key);
	conf_err_at(x->errs, x->pm, q, false, "%s", msg);
	free(q);
}

void conf_check_kpi(const struct conf_kpi *k, const char *path, struct conf_errs *errs,
		    const struct posmap *pm)
{
	struct kpi_report_ctx x = {errs, pm, path};
	if (kpi_checker)
		kpi_checker(k, kpi_report, &x);
}

static conf_target_checker target_checker;

void conf_set_target_checker(conf_target_checker fn) { target_checker = fn; }

void conf_check_target_runtime(const struct conf_target *t, const char *path,
			       struct conf_errs *errs, const struct posmap *pm)
{
	struct kpi_report_ctx x = {errs, pm, path};
	if (target_checker)
		target_checker(t, kpi_report, &x);
}

static conf_template_checker template_checker;

void conf_set_template_checker(conf_template_checker fn) { template_checker = fn; }

void conf_check_template(int kind, const char *t, bool in_file, const char *path,
			 struct conf_errs *errs, const struct posmap *pm)
{
	char *cause = NULL;
	size_t at = 0;
	if (!t || !template_checker || template_checker(kind, t, &at, &cause) == 0) {
		free(cause);
		return;
	}
	const char *why = cause ? cause : "invalid template";
	if (in_file) {
		size_t line = 1, col = 1;
		for (size_t i = 0; i < at && t[i]; i++) {
			if (t[i] == '\n')
				line++, col = 1;
			else if (((unsigned char)t[i] & 0xC0) != 0x80)
				col++; /* characters, not bytes */
		}
		conf_err_at(errs, pm, path, false, "template error at line %zu, column %zu of the "
						   "file: %s", line, col, why);
	} else {
		/* the action at fault, as written (up to 60 bytes, whole characters) */
		const char *a = t + at, *close = strstr(a, "}}");
		size_t n = close ? (size_t)(close + 2 - a) : strlen(a);
		if (n > 60) {
			n = 60;
			while (n > 0 && ((unsigned char)a[n] & 0xC0) == 0x80)
				n--;
		}
		char shown[64];
		for (size_t i = 0; i < n; i++) /* on one line */
			shown[i] = (unsigned char)a[i] < 0x20 ? ' ' : a[i];
		shown[n] = '\0';
		conf_err_at(errs, pm, path, false, "template error in \"%s%s\": %s", shown,
			    n < strlen(a) && !(close && a + n == close + 2) ? "..." : "", why);
	}
	free(cause);
}

void conf_check_headers(const struct conf_kvs *h, const char *path, struct conf_errs *errs,
			const struct posmap *pm)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	for (size_t i = 0; i < h->n; i++) {
		const unsigned char *nm = (const unsigned char *)h->v[i].name,
				    *v = (const unsigned char *)h->v[i].value;
		bool name_ok = *nm != '\0', value_ok = true;
		for (; *nm; nm++)
			if (!((*nm >= 'a' && *nm <= 'z') || (*nm >= 'A' && *nm <= 'Z') ||
			      (*nm >= '0' && *nm <= '9') || strchr(tchar, *nm)))
				name_ok = false;
		for (; v && *v; v++)
			if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
				value_ok = false;
		if (name_ok && value_ok)
			continue;
		char *p = xasprintf("%s.%s", path, h->v[i].name);
		if (!name_ok)
			conf_err_at(errs, pm, p, true, "\"%s\" is not an HTTP header name (letters, "
						      "digits and !#$%%&'*+-.^_`|~)", h->v[i].name);
		else
			conf_err_at(errs, pm, p, false, "a header value may not hold a line break or "
							"another control character");
		free(p);
	}
}

int conf_cmp_parse(const char *s, int *cmp, double *v)
{
	static const struct {
		const char *op;
		int cmp;
	} ops[] = {{">=", CONF_CMP_GE}, {"<=", CONF_CMP_LE}, {"==", CONF_CMP_EQ},
		   {"!=", CONF_CMP_NE}, {">", CONF_CMP_GT},  {"<", CONF_CMP_LT}};
	while (*s == ' ')
		s++;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t n = strlen(ops[i].op);
		if (strncmp(s, ops[i].op, n) == 0) {
			const char *p = s + n;
			while (*p == ' ')
				p++;
			if (!pw_number(p, v))
				return PW_EINVAL;
			*cmp = ops[i].cmp;
			return 0;
		}
	}
	return PW_EINVAL;
}

void conf_check_tz(const char *name, const char *path, struct conf_errs *errs,
		   const struct posmap *pm)
{
	struct pw_tz *tz = NULL;
	char *cause = NULL;

	if (!name)
		return;
	if (pw_tz_load(name, &tz, &cause) != 0)
		conf_err_at(errs, pm, path, false, "%s", cause);
	free(cause);
	pw_tz_free(tz);
}

/* ---- TLS certificate and key ---------------------------------------------- */

/* The file's content for GnuTLS; *cause on failure. */
static int tls_read(const char *file, gnutls_datum_t *d, char **cause)
{
	char *text = NULL;
	size_t len = 0;
	int rc = pw_read_file(file, 1 << 20, &text, &len);
	if (rc) {
		*cause = rc == PW_ETOOBIG ? xasprintf("\"%s\" is larger than 1 MiB", file)
					  : xasprintf("cannot read \"%s\": %s", file, pw_strerror(rc));
		return PW_EINVAL;
	}
	d->data = (unsigned char *)text;
	d->size = (unsigned)len;
	return 0;
}

static void day(char *b, size_t n, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(b, n, "%Y-%m-%d %H:%M UTC", &tm);
}

int conf_tls_check_files(const char *cert_file, const char *key_file, int64_t now_ms,
			 char **cause, char **warning)
{
	gnutls_datum_t cd = {0}, kd = {0};
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrt = 0;
	gnutls_x509_privkey_t key = NULL;
	unsigned char cid[64], kid[64];
	size_t cn = sizeof cid, kn = sizeof kid;
	int rc = PW_EINVAL, g;
	time_t now = (time_t)(now_ms / 1000), exp, act;
	char when[64];

	*cause = NULL;
	if (tls_read(cert_file, &cd, cause) || tls_read(key_file, &kd, cause))
		goto out;
	g = gnutls_x509_crt_list_import2(&crts, &ncrt, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0 || ncrt == 0) {
		*cause = xasprintf("\"%s\" holds no usable PEM certificate (%s)", cert_file,
				   g < 0 ? gnutls_strerror(g) : "none found");
		goto out;
	}
	if ((g = gnutls_x509_privkey_init(&key)) < 0 ||
	    (g = gnutls_x509_privkey_import2(key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		/* GnuTLS' reason names a format, never the key's bytes */
		*cause = xasprintf("\"%s\" holds no usable PEM private key (%s)", key_file,
				   gnutls_strerror(g));
		goto out;
	}
	if (gnutls_x509_crt_get_key_id(crts[0], 0, cid, &cn) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, 0, kid, &kn) < 0 || cn != kn ||
	    memcmp(cid, kid, cn) != 0) {
		*cause = xasprintf("the key in \"%s\" does not belong to the certificate in \"%s\"",
				   key_file, cert_file);
		goto out;
	}
	exp = gnutls_x509_crt_get_expiration_time(crts[0]);
	act = gnutls_x509_crt_get_activation_time(crts[0]);
	if (exp != (time_t)-1 && exp < now) {
		day(when, sizeof when, exp);
		*cause = xasprintf("the certificate in \"%s\" expired on %s", cert_file, when);
		goto out;
	}
	rc = 0;
	if (warning && exp != (time_t)-1 && exp < now + 30 * 86400) {
		day(when, sizeof when, exp);
		*warning = xasprintf("the certificate in \"%s\" expires on %s, in %lld days",
				     cert_file, when, (long long)((exp - now) / 86400));
	} else if (warning && act != (time_t)-1 && act > now) {
		day(when, sizeof when, act);
		*warning = xasprintf("the certificate in \"%s\" is not valid before %s", cert_file,
				     when);
	}
out:
	for (unsigned i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (kd.data)
		explicit_bzero(kd.data, kd.size);
	free(cd.data);
	free(kd.data);
	return rc;
}
