/*
 * The notifier's decisions with "now" as a parameter, so every timer is
 * exact: Alertmanager's group_wait, group_interval and repeat_interval,
 * send_resolved, inhibition, routing with continue, mute intervals in a
 * time zone; read back from the outbox (no delivery thread runs). And the
 * email's encodings: RFC 2047 words and quoted-printable lines within
 * their limits, decoding back to the exact text.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "alerts_test.h"
#include "notify_int.h"

static char dir[64];
static struct store *st;
static struct conf *cf;
static struct alerts *ru;
static struct notify *no;
static struct pw_slot *views;

static void teardown(void)
{
	notify_free(no);
	alerts_free(ru);
	pw_slot_free(views);
	conf_free(cf);
	store_close(st);
	test_dir_remove(dir);
}

static void start(const char *notify_json)
{
	struct store_opts o = {0};
	char *cause = NULL, *text = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-notify-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0);
	cr_assert(asprintf(&text,
			   "{\"global\": {\"evaluation_interval\": \"1m\"}, \"rule_groups\": [{"
			   "\"name\": \"g\", \"rules\": ["
			   "{\"alert\": \"Down\", \"expr\": \"down == 1\", \"labels\": {\"severity\": "
			   "\"warning\"}, \"annotations\": {\"summary\": \"{{ $labels.city }} down\"}},"
			   "{\"alert\": \"Crit\", \"expr\": \"crit == 1\", \"labels\": {\"severity\": "
			   "\"critical\"}}]}], \"notify\": %s}",
			   notify_json) > 0);
	cf = load_conf("n.json", text);
	free(text);
	views = pw_slot_new();
	cr_assert_eq(alerts_new(cf, st, views, &ru, &cause), 0, "%s", cause ? cause : "");
	cr_assert_eq(notify_new(cf, st, views, &no, &cause), 0, "%s", cause ? cause : "");
}

/* write the current states at t, evaluate the rules, step the notifier */
static void tick(int64_t t, const char *const *down, const char *const *crit)
{
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	static const char *const cities[] = {"a", "b", "c", NULL};
	for (int i = 0; cities[i]; i++) {
		double d = 0, c = 0;
		for (int j = 0; down && down[j]; j++)
			d += strcmp(down[j], cities[i]) == 0;
		for (int j = 0; crit && crit[j]; j++)
			c += strcmp(crit[j], cities[i]) == 0;
		struct pw_label l1[2] = {{"__name__", "down"}, {"city", cities[i]}};
		struct pw_label l2[2] = {{"__name__", "crit"}, {"city", cities[i]}};
		store_batch_put(b, l1, 2, t, d);
		store_batch_put(b, l2, 2, t, c);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(alerts_eval_group(ru, 0, t, &cause), 0, "%s", cause ? cause : "");
	notify_step(no, t);
}

struct outbox {
	json_t *v[64];
	size_t n;
};

static int collect(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct outbox *o = ctx;
	json_error_t je;
	(void)k;
	(void)kn;
	cr_assert_lt(o->n, 64);
	o->v[o->n] = json_loadb(v, vn, 0, &je);
	cr_assert_not_null(o->v[o->n]);
	o->n++;
	return 0;
}

static void outbox(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++)
		json_decref(o->v[i]);
	o->n = 0;
	cr_assert_eq(store_rec_scan(st, "o/", 2, collect, o), 0);
}

/* the webhook payload of outbox entry i, parsed */
static json_t *payload(struct outbox *o, size_t i)
{
	json_error_t je;
	json_t *p = json_loads(json_string_value(json_object_get(o->v[i], "payload")), 0, &je);
	cr_assert_not_null(p, "payload: %s", je.text);
	return p;
}

/* "a+,b+,c-": each alert's city and + firing / - resolved, in order */
static void alerts_of(json_t *p, char *out, size_t sz)
{
	json_t *as = json_object_get(p, "alerts");
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(as); i++) {
		json_t *a = json_array_get(as, i);
		const char *city = json_string_value(json_object_get(json_object_get(a, "labels"), "city"));
		const char *s = json_string_value(json_object_get(a, "status"));
		size_t l = strlen(out);
		snprintf(out + l, sz - l, "%s%s%s", i ? "," : "", city ? city : "?",
			 strcmp(s, "firing") == 0 ? "+" : "-");
	}
}

#define MIN 60000LL
#define T0 1751299200000LL /* 2025-06-30T16:00:00Z, 2025-07-01 00:00 in Shanghai */

static const char *HOOK =
	"{\"receivers\": [{\"name\": \"hook\", \"webhook\": {\"url\": \"http://127.0.0.1:9/x\"}}],"
	" \"route\": {\"receiver\": \"hook\", \"group_by\": [\"alertname\"]}}";

Test(notify, alertmanager_timers, .fini = teardown)
{
	struct outbox o = {0};
	char s[256];
	const char *ab[] = {"a", "b", NULL}, *abc[] = {"a", "b", "c", NULL},
		   *bc[] = {"b", "c", NULL};
	start(HOOK);
	tick(T0, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 0, "a new group waits group_wait (30s)");
	tick(T0 + MIN / 2, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "sent after group_wait");
	json_t *p = payload(&o, 0);
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "a+,b+");
	cr_assert_str_eq(json_string_value(json_object_get(p, "groupKey")),
			 "{}:{alertname=\"Down\"}");
	cr_assert_str_eq(json_string_value(json_object_get(p, "version")), "4");
	json_decref(p);
	/* nothing changes: nothing more until repeat_interval (4h); the group
	 * is looked at every group_interval, at T0+30s+k*5m */
	for (int64_t t = T0 + MIN; t <= T0 + 62 * MIN; t += MIN / 2)
		tick(t, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "no repeat before 4h");
	/* a new alert at T0+62m30s: sent at the group's next look
	 * (T0+30s + 13*5m), not before */
	for (int64_t t = T0 + 62 * MIN + MIN / 2; t <= T0 + 65 * MIN; t += MIN / 2)
		tick(t, abc, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "held until the group's next interval");
	tick(T0 + 65 * MIN + MIN / 2, abc, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 2, "sent at T0+65m30s");
	p = payload(&o, 1);
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "a+,b+,c+");
	json_decref(p);
	/* a resolves: sent as resolved at the next interval, then not again */
	for (int64_t t = T0 + 66 * MIN; t <= T0 + 70 * MIN + MIN / 2; t += MIN / 2)
		tick(t, bc, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 3);
	p = payload(&o, 2);
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "b+,c+,a-", "resolved after firing: %s", s);
	cr_assert_str_eq(json_string_value(json_object_get(p, "status")), "firing");
	json_decref(p);
	/* repeat_interval: 4h after the last notification (T0+70m30s) */
	for (int64_t t = T0 + 71 * MIN; t < T0 + 310 * MIN + MIN / 2; t += MIN / 2)
		tick(t, bc, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 3, "no repeat before 4h");
	tick(T0 + 310 * MIN + MIN / 2, bc, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 4, "repeated at 4h");
	p = payload(&o, 3);
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "b+,c+", "a resolved alert already notified is not news: %s", s);
	json_decref(p);
	/* everything resolves: one last notification, all resolved */
	for (int64_t t = T0 + 311 * MIN; t <= T0 + 315 * MIN + MIN / 2; t += MIN / 2)
		tick(t, NULL, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 5);
	p = payload(&o, 4);
	cr_assert_str_eq(json_string_value(json_object_get(p, "status")), "resolved");
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "b-,c-");
	json_decref(p);
	for (int64_t t = T0 + 316 * MIN; t < T0 + 400 * MIN; t += MIN / 2)
		tick(t, NULL, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 5, "nothing after the group ended");
	outbox(&o);
	for (size_t i = 0; i < o.n; i++)
		json_decref(o.v[i]);
}

Test(notify, send_resolved_off_and_old_alerts_skip_group_wait, .fini = teardown)
{
	struct outbox o = {0};
	char s[256];
	const char *ab[] = {"a", "b", NULL}, *b_[] = {"b", NULL};
	start("{\"receivers\": [{\"name\": \"hook\", \"send_resolved\": false, \"webhook\": "
	      "{\"url\": \"http://127.0.0.1:9/x\"}}], \"route\": {\"receiver\": \"hook\", "
	      "\"group_by\": [\"alertname\"], \"group_wait\": \"10m\"}}");
	/* the alerts are already 15 minutes old when the notifier first sees
	 * them (a restart): no group_wait */
	for (int64_t t = T0; t < T0 + 10 * MIN; t += MIN)
		tick(t, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 0, "group_wait 10m, first flush at T0+10m");
	notify_free(no);
	char *cause = NULL;
	cr_assert_eq(notify_new(cf, st, views, &no, &cause), 0);
	tick(T0 + 15 * MIN, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "an alert older than group_wait is sent at once");
	/* a resolves: with send_resolved off that is no news (Alertmanager's
	 * needsUpdate); b's repeat comes 4h after the first notification */
	tick(T0 + 16 * MIN, b_, NULL);
	tick(T0 + 20 * MIN, b_, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "resolved only: not sent");
	tick(T0 + 15 * MIN + 240 * MIN, b_, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 2);
	json_t *p = payload(&o, 1);
	alerts_of(p, s, sizeof s);
	cr_assert_str_eq(s, "b+");
	json_decref(p);
	for (size_t i = 0; i < o.n; i++)
		json_decref(o.v[i]);
}

Test(notify, inhibition_routes_and_mute_times, .fini = teardown)
{
	struct outbox o = {0};
	const char *ab[] = {"a", "b", NULL}, *b_[] = {"b", NULL};
	/* warnings go to "day" (muted 00:00-08:00 Shanghai) and continue to
	 * "all"; criticals mute the same city's warnings */
	start("{\"receivers\": ["
	      "{\"name\": \"day\", \"webhook\": {\"url\": \"http://127.0.0.1:9/d\"}},"
	      "{\"name\": \"all\", \"webhook\": {\"url\": \"http://127.0.0.1:9/a\"}}],"
	      " \"route\": {\"receiver\": \"all\", \"group_by\": [\"alertname\"], \"group_wait\": "
	      "\"0s\", \"group_interval\": \"1m\", \"repeat_interval\": \"10m\", \"routes\": ["
	      "  {\"matchers\": [\"severity=warning\"], \"receiver\": \"day\", \"continue\": true,"
	      "   \"mute_time_intervals\": [\"night\"]},"
	      "  {\"matchers\": [\"severity=~\\\"warning|critical\\\"\"], \"receiver\": \"all\"}]},"
	      " \"inhibit_rules\": [{\"source_matchers\": [\"severity=\\\"critical\\\"\"],"
	      "   \"target_matchers\": [\"severity=\\\"warning\\\"\"], \"equal\": [\"city\"]}],"
	      " \"time_intervals\": [{\"name\": \"night\", \"time_intervals\": [{\"times\": "
	      "   [{\"start_time\": \"00:00\", \"end_time\": \"08:00\"}], \"location\": "
	      "   \"Asia/Shanghai\"}]}]}");
	/* T0 is 00:00 in Shanghai: "day" is muted, "all" is not */
	tick(T0, ab, NULL);
	outbox(&o);
	cr_assert_eq(o.n, 1, "only the unmuted receiver (%zu: %s)", o.n, o.n ? json_string_value(json_object_get(o.v[o.n - 1], "lane")) : "");
	cr_assert_str_eq(json_string_value(json_object_get(o.v[0], "lane")), "all");
	/* 08:00 Shanghai: the muted route sends */
	for (int64_t t = T0 + 10 * MIN; t <= T0 + 8 * 60 * MIN; t += 10 * MIN)
		tick(t, ab, NULL);
	outbox(&o);
	bool day = false;
	for (size_t i = 0; i < o.n; i++)
		day |= strcmp(json_string_value(json_object_get(o.v[i], "lane")), "day") == 0;
	cr_assert(day, "sent to day once the night is over");
	/* a critical alert for b inhibits b's warning everywhere */
	size_t before = o.n;
	int64_t t = T0 + 8 * 60 * MIN + MIN;
	for (int64_t u = t; u <= t + 20 * MIN; u += MIN)
		tick(u, ab, b_);
	outbox(&o);
	bool crit = false, b_warning = false, down = false;
	for (size_t i = before; i < o.n; i++) {
		json_t *p = payload(&o, i);
		char s[256];
		alerts_of(p, s, sizeof s);
		const char *name =
			json_string_value(json_object_get(json_object_get(p, "groupLabels"), "alertname"));
		if (strcmp(name, "Crit") == 0)
			crit = true;
		else if (strstr(s, "b+"))
			b_warning = true;
		else
			down = true;
		json_decref(p);
	}
	cr_assert(crit, "the critical alert is sent");
	cr_assert(!b_warning, "b's warning is inhibited");
	cr_assert(down, "the warnings are sent again (repeat), without b");
	for (size_t i = 0; i < o.n; i++)
		json_decref(o.v[i]);
}

/* ---- the email's encodings ------------------------------------------------- */

static int unb64(int c)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(t, c);
	return p && c ? (int)(p - t) : -1;
}

static void decode_subject(const char *h, char *out, size_t sz)
{
	size_t w = 0;
	const char *p = h;
	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		p += 10;
		const char *e = strstr(p, "?=");
		cr_assert_not_null(e);
		cr_assert_leq(e - p + 12, 75, "an encoded word is at most 75 characters");
		cr_assert_leq(e - p + 12 + (p - 10 == h + 11 ? 9 : 1), 76, "encoded lines within 76");
		unsigned acc = 0;
		int bits = 0;
		for (; p < e; p++) {
			if (*p == '=')
				break;
			acc = acc << 6 | (unsigned)unb64(*p);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				cr_assert_lt(w + 1, sz);
				out[w++] = (char)(acc >> bits & 0xff);
			}
		}
		p = e + 2;
	}
	out[w] = '\0';
}

static char *decode_qp(const char *s, const char *end)
{
	char *o = malloc((size_t)(end - s) + 1);
	size_t w = 0;
	while (s < end) {
		if (*s == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (*s == '=') {
			char h[3] = {s[1], s[2], 0};
			o[w++] = (char)strtol(h, NULL, 16);
			s += 3;
		} else if (*s == '\r') {
			s++;
		} else {
			o[w++] = *s++;
		}
	}
	o[w] = '\0';
	return o;
}

Test(notify, email_encodings, .fini = teardown)
{
	start(HOOK);
	struct conf_receiver rc = {.name = "oncall"};
	char *to[] = {"值班室 <oncall@example.org>"};
	rc.email.from = "pacewatch <pw@example.org>";
	rc.email.to = to;
	rc.email.nto = 1;
	const char *title = "检查检验结果互认项目数（全省十六市，含各县区二级以上医疗机构）";
	struct pw_label labels[] = {{"alertname", "KpiLagging"}, {"city", "济南"}, {"kpi", "mr"}};
	/* an alert of a rule: its summary is what the email says */
	struct pw_label ann[] = {{"summary", "line one\nline two = x.  "}, {"title", title}};
	struct nalert a = {.labels = pw_lset_new(labels, 3), .ann = pw_lset_new(ann, 2),
			   .firing = true, .starts_ms = T0, .value = 50};
	struct nalert *as[] = {&a};
	struct pw_label gl[] = {{"alertname", "KpiLagging"}, {"kpi", "mr"}};
	struct pw_lset *gls = pw_lset_new(gl, 2);
	struct nmsg m = {.rc = &rc, .group_key = "{}:{}", .group_labels = gls,
			 .alerts = as, .n = 1, .nfiring = 1, .external_url = "http://x",
			 .now_ms = T0, .timezone = "Asia/Shanghai"};
	char *subject = NULL;
	char *msg = render_email(&m, "<1@x>", &subject);
	char want[512], got[512];
	snprintf(want, sizeof want, "[FIRING:1] %s mr", title);
	cr_assert_str_eq(subject, want);
	/* every line within 78 characters; the subject header decodes back */
	const char *p = msg, *hdr_end = strstr(msg, "\r\n\r\n");
	cr_assert_not_null(hdr_end);
	while (*p) {
		const char *nl = strstr(p, "\r\n");
		cr_assert_not_null(nl, "CRLF line ends");
		cr_assert_leq(nl - p, 78, "line too long: %.*s", (int)(nl - p), p);
		p = nl + 2;
	}
	const char *sh = strstr(msg, "\r\nSubject: ");
	cr_assert_not_null(sh);
	char hv[1024];
	const char *se = strstr(sh + 2, "\r\nMIME-Version");
	snprintf(hv, sizeof hv, "%.*s", (int)(se - sh), sh);
	decode_subject(hv, got, sizeof got);
	cr_assert_str_eq(got, want);
	cr_assert_not_null(strstr(msg, "Date: Tue, 1 Jul 2025 00:00:00 +0800\r\n"));
	cr_assert_not_null(strstr(msg, "\r\nTo: =?UTF-8?B?"));
	/* the text part decodes to text holding the summary, trailing spaces kept */
	const char *tp = strstr(msg, "Content-Type: text/plain; charset=UTF-8");
	cr_assert_not_null(tp);
	tp = strstr(tp, "\r\n\r\n") + 4;
	const char *te = strstr(tp, "\r\n--=_pacewatch_");
	char *text = decode_qp(tp, te);
	cr_assert_not_null(strstr(text, "line one\nline two = x.  "), "%s", text);
	cr_assert_not_null(strstr(text, "value 50 · city=济南, kpi=mr"), "%s", text);
	free(text);
	free(msg);
	free(subject);
	/* a KPI alert (it has a unit) in Chinese (global.language), with its
	 * headline: a row of the unit's numbers */
	struct pw_label ann_zh[] = {{"headline", "进度落后"}, {"title", title}, {"unit", "济南市"},
				    {"value", "50"},        {"expected", "60"}, {"gap", "10"},
				    {"gap_pct", "10.0%"}};
	pw_lset_unref(a.ann);
	a.ann = pw_lset_new(ann_zh, 7);
	m.zh = true;
	msg = render_email(&m, "<1@x>", &subject);
	snprintf(want, sizeof want, "[告警 1] %s：进度落后 1", title);
	cr_assert_str_eq(subject, want);
	tp = strstr(strstr(msg, "Content-Type: text/plain; charset=UTF-8"), "\r\n\r\n") + 4;
	text = decode_qp(tp, strstr(tp, "\r\n--=_pacewatch_"));
	cr_assert_not_null(strstr(text, "济南市: 当前值 50 · 计划应达 60 · 落后计划 10 (10.0%)\n"),
			   "%s", text);
	free(text);
	free(msg);
	free(subject);
	/* ahead of the plan and past the target (a stale unit that is met):
	 * a lead, as the pages and the digest say it, never a negative gap */
	struct pw_label ann_lead[] = {{"headline", "停报"},        {"title", title},
				      {"unit", "济南市"},          {"value", "62"},
				      {"expected", "60"},          {"gap", "-2"},
				      {"gap_pct", "-2.0%"},        {"gap_target", "-12"},
				      {"gap_target_pct", "-12.0%"}};
	pw_lset_unref(a.ann);
	a.ann = pw_lset_new(ann_lead, 9);
	msg = render_email(&m, "<1@x>", &subject);
	tp = strstr(strstr(msg, "Content-Type: text/plain; charset=UTF-8"), "\r\n\r\n") + 4;
	text = decode_qp(tp, strstr(tp, "\r\n--=_pacewatch_"));
	cr_assert_not_null(strstr(text, "济南市: 当前值 62 · 计划应达 60 · 领先计划 2 (2.0%) · "
					"超过目标 12 (12.0%)\n"),
			   "%s", text);
	const char *hp = strstr(strstr(msg, "Content-Type: text/html"), "\r\n\r\n") + 4;
	char *html = decode_qp(hp, strstr(hp, "\r\n--=_pacewatch_"));
	cr_assert_not_null(strstr(html, ">领先 2<"), "%s", html);
	cr_assert_null(strstr(html, ">-2<"), "%s", html);
	free(html);
	free(text);
	free(msg);
	free(subject);
	pw_lset_unref(a.labels);
	pw_lset_unref(a.ann);
	pw_lset_unref(gls);
}

Test(notify, templates_from_files, .fini = teardown)
{
	start(HOOK);
	struct conf_receiver rc = {.name = "oncall"};
	char *to[] = {"oncall@example.org"};
	rc.email.from = "pw@example.org";
	rc.email.to = to;
	rc.email.nto = 1;
	rc.email.subject_template = "{{ .Status | toUpper }}/{{ .NumFiring }}: {{ .GroupLabels.alertname }}";
	rc.email.text_template = "{{ range .Alerts.Firing }}{{ .Labels.city }}={{ $value }} "
				 "({{ .Annotations.summary }}) since {{ .StartsAt }};{{ end }}"
				 "|{{ range .Alerts.Resolved }}{{ .Labels.city }} ok;{{ end }}"
				 "|{{ .CommonLabels.alertname }}|{{ .ExternalURL }}";
	rc.email.html_template = "<ul>{{ range .Alerts }}<li>{{ .Labels.city }}</li>{{ end }}</ul>";
	struct pw_label l1[] = {{"alertname", "Down"}, {"city", "<济南>"}};
	struct pw_label l2[] = {{"alertname", "Down"}, {"city", "青岛"}};
	struct pw_label an[] = {{"summary", "停了"}};
	struct nalert a = {.labels = pw_lset_new(l1, 2), .ann = pw_lset_new(an, 1),
			   .firing = true, .starts_ms = T0, .value = 2.5};
	struct nalert b = {.labels = pw_lset_new(l2, 2), .ann = pw_lset_new(NULL, 0),
			   .firing = false, .starts_ms = T0, .ends_ms = T0 + MIN};
	struct nalert *as[] = {&a, &b};
	struct pw_label gl[] = {{"alertname", "Down"}};
	struct pw_lset *gls = pw_lset_new(gl, 1);
	struct nmsg m = {.rc = &rc, .group_key = "{}:{}", .group_labels = gls,
			 .alerts = as, .n = 2, .nfiring = 1, .external_url = "http://pw:9470",
			 .now_ms = T0, .timezone = "Asia/Shanghai"};
	char *subject = NULL, *msg = render_email(&m, "<2@x>", &subject);
	cr_assert_str_eq(subject, "FIRING/1: Down");
	const char *tp = strstr(strstr(msg, "text/plain"), "\r\n\r\n") + 4;
	char *text = decode_qp(tp, strstr(tp, "\r\n--=_pacewatch_"));
	cr_assert_str_eq(text, "<济南>=2.5 (停了) since 2025-06-30T16:00:00Z;|青岛 ok;|Down|http://pw:9470");
	const char *hp = strstr(strstr(msg, "text/html"), "\r\n\r\n") + 4;
	char *html = decode_qp(hp, strstr(hp, "\r\n--=_pacewatch_"));
	cr_assert_str_eq(html, "<ul><li>&lt;济南&gt;</li><li>青岛</li></ul>", "values are escaped: %s",
			 html);
	free(text);
	free(html);
	free(msg);
	free(subject);
	pw_lset_unref(a.labels);
	pw_lset_unref(a.ann);
	pw_lset_unref(b.labels);
	pw_lset_unref(b.ann);
	pw_lset_unref(gls);
}

static int count_digests(struct outbox *o, char subjects[][256])
{
	int n = 0;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(json_string_value(json_object_get(o->v[i], "group")), "digest") == 0)
			snprintf(subjects[n++], 256, "%s",
				 json_string_value(json_object_get(o->v[i], "subject")));
	return n;
}

static char *digest_text(struct outbox *o, size_t i)
{
	const char *msg = json_string_value(json_object_get(o->v[i], "payload"));
	const char *tp = strstr(strstr(msg, "text/plain"), "\r\n\r\n") + 4;
	return decode_qp(tp, strstr(tp, "\r\n--=_pacewatch_"));
}

Test(notify, weekly_digest_with_changes, .fini = teardown)
{
	struct outbox o = {0};
	char subj[8][256];
	char *cause = NULL;
	/* a KPI over the same series: each city should reach 1 by T0 + 30d */
	snprintf(dir, sizeof dir, "/tmp/pw-notify-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	struct store_opts so = {.path = dir, .no_sync = true};
	cr_assert_eq(store_open(&so, &st, &cause), 0);
	static const char text[] =
		"{\"kpis\": [{\"name\": \"up\", \"title\": \"平台上线\", \"value\": \"down\", "
		"\"target\": 1, \"baseline\": 0, \"curve\": \"step\", \"start\": \"2025-06-01\", "
		"\"deadline\": \"2025-12-31\"}],"
		" \"notify\": {\"receivers\": [{\"name\": \"m\", \"email\": {\"smarthost\": "
		"\"127.0.0.1:9\", \"from\": \"pw@x\", \"to\": [\"ops@x\"], \"tls\": \"none\"}}],"
		" \"route\": {\"receiver\": \"m\"},"
		" \"digests\": [{\"receiver\": \"m\", \"weekdays\": [\"monday\"], \"at\": \"09:00\"}]}}";
	cf = load_conf("d.json", text);
	views = pw_slot_new();
	cr_assert_eq(alerts_new(cf, st, views, &ru, &cause), 0);
	cr_assert_eq(notify_new(cf, st, views, &no, &cause), 0);
	/* Tuesday 2025-07-01 00:00 Shanghai; Monday 2025-07-07 09:00 is
	 * 2025-07-07T01:00Z */
	const int64_t mon = 1751850000000LL;
	for (int64_t t = T0; t < mon; t += 60 * MIN) {
		struct store_batch *b = store_batch_begin(st);
		struct pw_label la[2] = {{"__name__", "down"}, {"city", "a"}};
		struct pw_label lb[2] = {{"__name__", "down"}, {"city", "b"}};
		store_batch_put(b, la, 2, t, 0);
		store_batch_put(b, lb, 2, t, 0);
		cr_assert_eq(store_batch_commit(b, &cause), 0);
		cr_assert_eq(alerts_eval_kpis(ru, t, &cause), 0);
		notify_step(no, t);
	}
	outbox(&o);
	cr_assert_eq(count_digests(&o, subj), 0, "not before Monday 09:00");
	struct store_batch *b = store_batch_begin(st);
	struct pw_label la[2] = {{"__name__", "down"}, {"city", "a"}};
	struct pw_label lb[2] = {{"__name__", "down"}, {"city", "b"}};
	store_batch_put(b, la, 2, mon, 1);
	store_batch_put(b, lb, 2, mon, 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(alerts_eval_kpis(ru, mon, &cause), 0);
	notify_step(no, mon);
	outbox(&o);
	cr_assert_eq(count_digests(&o, subj), 1, "sent at Monday 09:00");
	cr_assert_str_eq(subj[0], "进度周报 2025-07-07: 1 有风险", "the subject counts the laggards");
	char *t1 = digest_text(&o, o.n - 1);
	cr_assert_not_null(strstr(t1, "（首份周报）"), "%s", t1);
	cr_assert_not_null(strstr(t1, "a | 已达标 | 1 | 0 | 领先 1 | 1"), "%s", t1);
	cr_assert_not_null(strstr(t1, "b | 有风险 | 0 | 0 | 0 | 1"), "%s", t1);
	free(t1);
	notify_step(no, mon + MIN);
	outbox(&o);
	cr_assert_eq(count_digests(&o, subj), 1, "once");
	/* pacewatch is down over the next Monday: sent once on restart, and
	 * b's change (0 -> 1) is listed */
	notify_free(no);
	int64_t later = mon + 8 * 24 * 60 * MIN;
	b = store_batch_begin(st);
	store_batch_put(b, la, 2, later, 1);
	store_batch_put(b, lb, 2, later, 1);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(alerts_eval_kpis(ru, later, &cause), 0);
	cr_assert_eq(notify_new(cf, st, views, &no, &cause), 0);
	notify_step(no, later);
	notify_step(no, later + MIN);
	outbox(&o);
	cr_assert_eq(count_digests(&o, subj), 2, "the missed digest, once");
	char *t2 = digest_text(&o, o.n - 1);
	cr_assert_not_null(strstr(t2, "平台上线 b: 有风险 → 已达标 (0 → 1)"), "%s", t2);
	cr_assert_null(strstr(t2, "平台上线 a: "), "a did not change: %s", t2);
	free(t2);
	for (size_t i = 0; i < o.n; i++)
		json_decref(o.v[i]);
}

/* docs/notifications.md, "Digests", worked example: the programme at a
 * glance orders dialysis (2 units not reporting) before clinics (3 lagging);
 * each table lists max_units = 5 units, laggards first, and counts the rest. */
Test(notify, digest_whole_programme, .fini = teardown)
{
	struct outbox o = {0};
	char subj[8][256];
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-notify-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	struct store_opts so = {.path = dir, .no_sync = true};
	cr_assert_eq(store_open(&so, &st, &cause), 0);
	static const char text[] =
		"{\"kpis\": ["
		"{\"name\": \"clinics\", \"title\": \"心理门诊\", \"item\": \"N2 心理健康\", "
		"\"value\": \"clinics\", \"target\": 100, \"baseline\": 0, \"start\": \"2025-06-01\", "
		"\"deadline\": \"2025-12-31\"},"
		"{\"name\": \"dialysis\", \"title\": \"县域透析\", \"item\": \"S5 透析\", "
		"\"value\": \"dialysis\", \"roster\": \"roster\", \"target\": 1, \"baseline\": 0, "
		"\"curve\": \"step\", \"start\": \"2025-06-01\", \"deadline\": \"2025-12-31\"}],"
		" \"notify\": {\"receivers\": [{\"name\": \"m\", \"email\": {\"smarthost\": "
		"\"127.0.0.1:9\", \"from\": \"pw@x\", \"to\": [\"ops@x\"], \"tls\": \"none\"}}],"
		" \"route\": {\"receiver\": \"m\"},"
		" \"digests\": [{\"receiver\": \"m\", \"weekdays\": [\"monday\"], \"at\": \"09:00\","
		" \"max_units\": 5}]}}";
	cf = load_conf("d.json", text);
	views = pw_slot_new();
	cr_assert_eq(alerts_new(cf, st, views, &ru, &cause), 0);
	cr_assert_eq(notify_new(cf, st, views, &no, &cause), 0);
	/* Monday 2025-07-07 09:00 Shanghai: the plan of clinics is
	 * 100 * 36.375 / 213 = 17.1, so 0 lags (by more than 10) and 20 is on
	 * track; dialysis: counties c1..c7 have 1 (met), c8 and c9 never report */
	const int64_t mon = 1751850000000LL;
	notify_step(no, mon - 10 * MIN); /* running before the digest falls due */
	struct store_batch *b = store_batch_begin(st);
	for (int i = 1; i <= 16; i++) {
		char city[8];
		snprintf(city, sizeof city, "k%02d", i);
		struct pw_label l[2] = {{"__name__", "clinics"}, {"city", city}};
		store_batch_put(b, l, 2, mon - 5 * MIN, i <= 3 ? 0 : 20);
	}
	for (int i = 1; i <= 9; i++) {
		char county[8];
		snprintf(county, sizeof county, "c%d", i);
		struct pw_label r[2] = {{"__name__", "roster"}, {"county", county}};
		struct pw_label d[2] = {{"__name__", "dialysis"}, {"county", county}};
		store_batch_put(b, r, 2, mon - 5 * MIN, 1);
		if (i <= 7)
			store_batch_put(b, d, 2, mon - 5 * MIN, 1);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(alerts_eval_kpis(ru, mon, &cause), 0);
	notify_step(no, mon);
	outbox(&o);
	cr_assert_eq(count_digests(&o, subj), 1);
	cr_assert_str_eq(subj[0], "进度周报 2025-07-07: 2 应报未报, 3 进度落后");
	char *t = digest_text(&o, o.n - 1);
	const char *ov = strstr(t, "项目总览\n项目 | 指标 | 截止 | 落后 | 有风险 | 停报 | 正常 | 已达标\n"
				   "S5 透析 | 县域透析 | 2025-12-31 | 2 | 0 | 0 | 0 | 7\n"
				   "N2 心理健康 | 心理门诊 | 2025-12-31 | 3 | 0 | 0 | 13 | 0\n");
	cr_assert_not_null(ov, "the overview, laggards first: %s", t);
	const char *dt = strstr(t, "\n县域透析 — 截止");
	const char *ct = strstr(t, "\n心理门诊 — 截止");
	cr_assert(dt && ct && ov < dt && dt < ct, "tables in the overview's order: %s", t);
	cr_assert_not_null(strstr(dt, "另有 4 个单位：已达标 4\n"), "%s", t);
	cr_assert_not_null(strstr(ct, "另有 11 个单位：正常 11\n"), "%s", t);
	/* 5 rows per table: count the lines between the header and the rest */
	size_t rows = 0;
	for (const char *p = strstr(ct, "目标\n") + strlen("目标\n"); p && *p && strncmp(p, "另有", strlen("另有"));
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		rows++;
	cr_assert_eq(rows, 5, "%s", ct);
	cr_assert_not_null(strstr(ct, "k01 | 进度落后 | 0 |"), "laggards listed first: %s", ct);
	/* links: each KPI's page, the board (external_url defaults to the first
	 * listen address) */
	cr_assert_not_null(strstr(t, "\n县域透析 — 截止 2025-12-31\nhttp://127.0.0.1:9470/kpis/dialysis\n"),
			   "%s", t);
	cr_assert_not_null(strstr(t, "\n项目看板: http://127.0.0.1:9470/\n"), "%s", t);
	free(t);
	for (size_t i = 0; i < o.n; i++)
		json_decref(o.v[i]);
}
