/* Fuzz the notification renderers: the input is split at NUL bytes into a
 * subject template, a text template, then label and annotation values of
 * two alerts. Every email must end its lines with CRLF and nothing else,
 * keep header lines within RFC 5322's 998 characters and body lines
 * within 78 (quoted-printable), and every webhook payload must be valid
 * JSON (invalid UTF-8 becomes U+FFFD). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const char *m)
{
	bool body = false;
	for (const char *p = m; *p;) {
		const char *nl = strstr(p, "\r\n");
		if (!nl || nl - p > (body ? 78 : 998)) {
			fprintf(stderr, "bad line (%s, %td): %.100s\n", body ? "body" : "header",
				nl ? nl - p : -1, p);
			abort();
		}
		if (nl == p)
			body = true;
		for (const char *q = p; q < nl; q++)
			if (*q == '\n' || *q == '\r')
				abort(); /* a bare line end inside a line */
		p = nl + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *f[8] = {0};
	size_t nf = 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; nf < 8;) {
		f[nf++] = p;
		char *z = memchr(p, '\0', (size_t)(buf + size - p));
		if (!z || z == buf + size)
			break;
		p = z + 1;
	}
	for (size_t i = nf; i < 8; i++)
		f[i] = "";
	/* addresses are checked by the configuration: one line, at most 320 */
	for (int i = 4; i <= 5; i++) {
		if (strlen(f[i]) > 320)
			f[i][320] = '\0';
		for (char *p = f[i]; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
	}
	struct conf_receiver rc = {.name = "r"};
	char *to[] = {f[4]};
	rc.email.from = f[5];
	rc.email.to = to;
	rc.email.nto = 1;
	if (*f[0])
		rc.email.subject_template = f[0];
	if (*f[1])
		rc.email.text_template = f[1];
	struct pw_label l1[] = {{"alertname", f[2]}, {"city", f[3]}};
	struct pw_label l2[] = {{"alertname", "KpiLagging"}, {"kpi", f[6]}};
	struct pw_label an[] = {{"summary", f[7]}, {"title", f[3]}, {"unit", f[2]}};
	/* label sets drop empty values, as every set the notifier sees */
	struct nalert a = {.labels = pw_lset_new(l1, 2), .ann = pw_lset_new(an, 3), .firing = true,
			   .starts_ms = 1751299200000, .value = 1.5};
	struct nalert b = {.labels = pw_lset_new(l2, 2), .ann = pw_lset_new(an, 2), .firing = false,
			   .starts_ms = 1751299200000, .ends_ms = 1751299260000};
	struct nalert *as[] = {&a, &b};
	struct pw_label gl[] = {{"kpi", f[6]}};
	struct pw_lset *gls = pw_lset_new(gl, 1);
	struct nmsg m = {.rc = &rc, .group_key = f[3], .group_labels = gls, .alerts = as,
			 .n = 2, .nfiring = 1, .external_url = f[5], .dashboard_url = f[4],
			 .now_ms = 1751299200000, .timezone = "Asia/Shanghai"};
	char *subject = NULL, *msg = render_email(&m, "<1@x>", &subject);
	check_lines(msg);
	if (strchr(subject, '\n') || strchr(subject, '\r'))
		abort();
	char *hook = render_webhook(&m, 1);
	json_error_t je;
	json_t *j = json_loads(hook, 0, &je);
	if (!j)
		abort();
	json_decref(j);
	free(hook);
	free(msg);
	free(subject);
	pw_lset_unref(a.labels);
	pw_lset_unref(a.ann);
	pw_lset_unref(b.labels);
	pw_lset_unref(b.ann);
	pw_lset_unref(gls);
	free(buf);
	return 0;
}
