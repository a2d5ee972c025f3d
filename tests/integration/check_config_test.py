"""check-config refuses what run refuses, first, with file:line:column.

Every error `pacewatch run` raises at start-up from its configuration — the
collector's JSON paths (elements, value, labels, timestamp, pagination),
time zones, files, listen addresses, PromQL and its regular expressions in
rules and KPIs, what a calendar quota may count, the notifier's matchers,
time intervals and digests, value_map's numbers, email addresses, HTTP
headers (names that are tokens, values without line breaks), the string
literals of label_replace, label_join and count_values (which fail every
evaluation, so the first, after start) — and every
template, which would otherwise fail only when it is expanded (alerting
rules' labels and annotations, a KPI's runbook and unit_name, an email
receiver's subject, text and HTML templates, inside and outside
{{ range .Alerts }}) — is written into a configuration of its own.
For each, check-config exits 1 naming file:line:column and the key, and run
exits 1 with the same error (so the error is one of run's, and check-config
said it before). Before issue 20, a JSONPath "$.data[*" or a value path
"count" passed check-config and stopped run.

usage: check_config_test.py PACEWATCH WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish  # noqa: E402

PW, WORK = sys.argv[1], sys.argv[2]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def T(**kw):
    return {"name": "t", "url": "http://127.0.0.1:1/x",
            "metrics": [dict({"path": "$.data[*]", "metric": "m", "value": "@.v"}, **kw)]}


def K(**kw):
    return dict({"name": "k", "value": "m", "target": "10", "start": "2025-01-01",
                 "deadline": "2025-12-31"}, **kw)


R = {"name": "r", "webhook": {"url": "http://127.0.0.1:1/h"}}


def N(**kw):
    return {"notify": dict({"receivers": [R], "route": {"receiver": "r"}}, **kw)}


def A(**kw):
    return {"rule_groups": [{"name": "g", "rules": [dict({"alert": "A", "expr": "up == 0"},
                                                         **kw)]}]}


def E(**kw):
    e = dict({"smarthost": "127.0.0.1:1", "from": "pw@example.org", "to": ["duty@example.org"]},
             **kw)
    return N(receivers=[{"name": "r", "email": e}])


def F(name, text):
    """a template file in WORK: its path"""
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# name: (configuration, the key check-config must name)
CASES = {
    "jsonpath": ({"targets": [T(path="$.data[*")]}, r"targets\[0\]\.metrics\[0\]\.path"),
    "valuepath": ({"targets": [T(value="count")]}, r"targets\[0\]\.metrics\[0\]\.value"),
    "labelpath": ({"targets": [T(labels={"city": "name"})]},
                  r"targets\[0\]\.metrics\[0\]\.labels\.city"),
    "timestamp": ({"targets": [T(timestamp="@.[")]}, r"targets\[0\]\.metrics\[0\]\.timestamp"),
    "done": ({"targets": [dict(T(), pagination={"page_param": "p", "done": "$.["})]},
             r"targets\[0\]\.pagination\.done"),
    "next": ({"targets": [dict(T(), pagination={"next": "next"})]},
             r"targets\[0\]\.pagination\.next"),
    "target_tz": ({"targets": [dict(T(), timezone="Mars/Base")]}, r"targets\[0\]\.timezone"),
    "token_file": ({"targets": [dict(T(), bearer_token_file=os.path.join(WORK, "no-token"))]},
                   r"targets\[0\]\.bearer_token_file"),
    "listen": ({"http": {"listen": ["127.0.0.1:99999"]}}, r"http\.listen\[0\]"),
    "rule_expr": ({"rule_groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up{"}]}]},
                  r"rule_groups\[0\]\.rules\[0\]\.expr"),
    "rule_regex": ({"rule_groups": [{"name": "g", "rules": [{"alert": "A",
                                                             "expr": 'up{job=~"("}'}]}]},
                   r"rule_groups\[0\]\.rules\[0\]\.expr"),
    "kpi_tz": ({"kpis": [K(timezone="Mars/Base")]}, r"kpis\[0\]\.timezone"),
    "kpi_value": ({"kpis": [K(value="sum(")]}, r"kpis\[0\]\.value"),
    "kpi_regex": ({"kpis": [K(value='m{a=~"("}')]}, r"kpis\[0\]\.value"),
    "kpi_target": ({"kpis": [K(target="max(")]}, r"kpis\[0\]\.target"),
    "kpi_roster": ({"kpis": [K(roster="up{")]}, r"kpis\[0\]\.roster"),
    "quota_value": ({"kpis": [K(value="sum(m)", count="sum", period="month")]},
                    r"kpis\[0\]\.value"),
    "quota_target": ({"kpis": [K(count="sum", period="month", target="max(m)")]},
                     r"kpis\[0\]\.target"),
    "route_matcher": (N(route={"receiver": "r", "routes": [{"matchers": ['a=~"("'],
                                                             "receiver": "r"}]}),
                      r"notify\.route\.routes\[0\]\.matchers\[0\]"),
    "inhibit": (N(inhibit_rules=[{"source_matchers": ['a=~"["'], "target_matchers": ['b="c"']}]),
                r"notify\.inhibit_rules\[0\]\.source_matchers\[0\]"),
    "time_of_day": (N(time_intervals=[{"name": "n", "time_intervals": [
        {"times": [{"start_time": "25:00", "end_time": "26:00"}]}]}]),
        r"notify\.time_intervals\[0\]\.time_intervals\[0\]\.times\[0\]\.start_time"),
    "weekday": (N(time_intervals=[{"name": "n", "time_intervals": [{"weekdays": ["funday"]}]}]),
                r"notify\.time_intervals\[0\]\.time_intervals\[0\]\.weekdays\[0\]"),
    "interval_tz": (N(time_intervals=[{"name": "n", "time_intervals": [{"location": "Mars/Base"}]}]),
                    r"notify\.time_intervals\[0\]\.time_intervals\[0\]\.location"),
    "digest": (N(digests=[{"receiver": "r", "weekdays": ["monday"], "at": "09:00"}]),
               r"notify\.digests\[0\]\.receiver"),
    "value_map": ({"targets": [T(value_map={"online": "yes"})]},
                  r"targets\[0\]\.metrics\[0\]\.value_map\.online"),
    "email_to": (E(to=["duty at example.org"]), r"notify\.receivers\[0\]\.email\.to\[0\]"),
    "email_from": (E(**{"from": "pw <pw@example.org"}), r"notify\.receivers\[0\]\.email\.from"),
    # headers sent as written: a line break would add headers (or a request) of its own
    "target_header": ({"targets": [dict(T(), headers={"X-Api": "k\r\nX-Evil: 1"})]},
                      r"targets\[0\]\.headers\.X-Api"),
    "webhook_header": (N(receivers=[{"name": "r", "webhook": {"url": "http://127.0.0.1:1/h",
                                                             "headers": {"X y": "1"}}}]),
                       r"notify\.receivers\[0\]\.webhook\.headers\.X y"),
    "rw_header": ({"remote_write": [{"name": "w", "url": "http://127.0.0.1:1/w",
                                     "headers": {"X-Scope-OrgID": "a\nb"}}]},
                  r"remote_write\[0\]\.headers\.X-Scope-OrgID"),
    # what every evaluation refuses, whatever the data: string literals of label_replace,
    # label_join, count_values (Prometheus says it at each evaluation, as the rule's error)
    "label_replace_regex": (A(expr='label_replace(up, "dst", "$1", "src", "(")'),
                            r"rule_groups\[0\]\.rules\[0\]\.expr"),
    "label_replace_dst": ({"kpis": [K(value='label_replace(m, "1dst", "$1", "src", "(.*)")')]},
                          r"kpis\[0\]\.value"),
    "label_join_src": (A(expr='label_join(up, "dst", ",", "a", "b-c")'),
                       r"rule_groups\[0\]\.rules\[0\]\.expr"),
    "count_values": (A(expr='count_values(("1v"), up) > 0'), r"rule_groups\[0\]\.rules\[0\]\.expr"),
    # templates: errors that every expansion meets, whatever the data
    "rule_annotation": (A(annotations={"summary": "{{ $lables.job }} is down"}),
                        r"rule_groups\[0\]\.rules\[0\]\.annotations\.summary"),
    "rule_annotation_lines": (A(annotations={"s": "{{ $labels.job\n  | nofn }}"}),
                              r"rule_groups\[0\]\.rules\[0\]\.annotations\.s"),
    "rule_annotation_fn": (A(annotations={"v": "{{ $value | humanise }}"}),
                           r"rule_groups\[0\]\.rules\[0\]\.annotations\.v"),
    "rule_label": (A(labels={"team": "{{ $labels.job"}), r"rule_groups\[0\]\.rules\[0\]\.labels\.team"),
    "kpi_runbook": ({"kpis": [K(runbook='see {{ printf "%99999s" $kpi.unit }}')]},
                    r"kpis\[0\]\.runbook"),
    "kpi_unit_name": ({"kpis": [K(unit_name="{{ .Status }}")]}, r"kpis\[0\]\.unit_name"),
    "email_subject": (E(subject_template_file=F("subject.tmpl", "[{{ .Status }}] {{ .StartsAt }}")),
                      r"notify\.receivers\[0\]\.email\.subject_template_file"),
    "email_text": (E(text_template_file=F("text.tmpl", "{{ range .Alerts }}\n"
                                                       "{{ .Labels.city | humanise }}\n{{ end }}")),
                   r"notify\.receivers\[0\]\.email\.text_template_file"),
    "email_html": (E(html_template_file=F("html.tmpl", "{{ range .Alerts }}<p>{{ .Labels.x }}")),
                   r"notify\.receivers\[0\]\.email\.html_template_file"),
}

# what the message says of a template: the action at fault, or its place in the file
SAYS = {
    "rule_annotation": 'template error in "{{ $lables.job }}": undefined variable or field '
                       '"$lables.job"',
    "rule_label": 'template error in "{{ $labels.job": unclosed action',
    # an action over several lines is quoted on one
    "rule_annotation_lines": 'template error in "{{ $labels.job   | nofn }}": function "nofn" '
                             'not defined',
    "email_subject": 'line 1, column 17 of the file: undefined variable or field ".StartsAt"',
    "email_text": 'line 2, column 1 of the file: function "humanise" not defined',
    "email_html": "line 1, column 1 of the file: range without {{ end }}",
    "label_replace_regex": "invalid regular expression in label_replace(): (",
    "label_join_src": "invalid source label name in label_join(): b-c",
    "count_values": 'invalid label name "1v"',
}

for name, (conf, key) in CASES.items():
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump(conf, f, indent=1)
    r = subprocess.run([PW, "check-config", path], capture_output=True, text=True, timeout=60)
    first = (r.stderr.splitlines() or [""])[0]
    check(r.returncode == 1, "%s: check-config exits 1 (got %d: %s)" % (name, r.returncode,
                                                                         r.stdout + r.stderr))
    check(re.match(re.escape(path) + r":\d+:\d+: " + key + ": ", first) is not None,
          "%s: check-config names file:line:column and %s (got %r)" % (name, key, first))
    if name in SAYS:
        check(first.endswith(SAYS[name]), "%s: the message says %r (got %r)" % (name, SAYS[name],
                                                                                first))
    try:
        rr = subprocess.run([PW, "run", "-c", path, "--storage", os.path.join(WORK, name + "-data"),
                             "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
        rc, err = rr.returncode, rr.stderr
    except subprocess.TimeoutExpired:
        rc, err = "running", ""
    check(rc == 1, "%s: run refuses the configuration too (exit %s)" % (name, rc))
    msg = first.split(": ", 1)[-1] if first else "?"
    check(msg in err, "%s: run says what check-config said (%r not in %r)" % (name, msg, err[:300]))
finish()
