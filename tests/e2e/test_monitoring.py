"""Monitoring: the Prometheus rules and the Grafana dashboard of
deploy/monitoring/ against the daemons' real /metrics (docs/monitoring.md).

- the rules load (promtool check rules) and their unit tests pass (promtool
  test rules);
- every daemon's exposition, after releases went through, passes promtool
  check metrics;
- every metric an alert, a recording rule or a dashboard panel reads is one
  a daemon exports, so a renamed metric cannot leave an alert silently blind;
- zwgk_deliveries_overdue counts a release whose deadline passed while its
  channel's adapter was down, and forgets it once it is delivered.
"""

import json
import pathlib
import re
import shutil
import subprocess

import pytest
import requests
import yaml

from conftest import DAEMONS, describe, restart_daemon, start_daemon, wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "zwgk.rules.yml"
RULE_TESTS = MONITORING / "zwgk.rules.test.yml"
DASHBOARD = MONITORING / "grafana-zwgk.json"

# A release of catalog item zdbc-001 goes to the portal and a village's
# bulletin board (tests/e2e/test_channels.py has the seed's table).
BULLETIN_ITEM = {"catalog_code": "zdbc-001", "department": "jzs-lgzz", "region_code": "370281101201"}
# Formed early in January 2025: due 20 working days later, long past.
LONG_AGO = "2025-01-06T09:00:00+08:00"

# Words of PromQL that look like metric names to a tokenizer.
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                "bool", "offset", "inf", "nan"}


def promtool(*args, stdin=None):
    assert shutil.which("promtool"), "promtool is missing: run make deps (Debian package prometheus)"
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=120)


def scrape(url):
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, f"GET {url}/metrics: {response.status_code}"
    return response.text


def sample(text, name, labels):
    """The value of the series name{labels} in an exposition, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{want}}} " if want else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def exported_names(text):
    """Metric names of an exposition: every declared family (# TYPE, even one
    without samples yet) and every sample."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def expr_names(expr):
    """Metric and recording-rule names a PromQL expression reads: what is left
    of its identifiers once strings, label matchers and label lists, ranges,
    function calls and keywords are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[match.end():].lstrip()
        word = match.group(0)
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function, an aggregation or a keyword
        if re.fullmatch(r"\d+[smhdwy]", word) or expr[match.start() - 1:match.start()].isdigit():
            continue
        names.add(word)
    return names


def rule_exprs():
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rules = [r for g in groups for r in g["rules"]]
    return {r.get("alert") or r["record"]: r["expr"] for r in rules}, {r["record"] for r in rules if "record" in r}


def dashboard_exprs():
    def walk(panels):
        for panel in panels:
            yield from (t["expr"] for t in panel.get("targets", []))
            yield from walk(panel.get("panels", []))

    return list(walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]))


@pytest.fixture
def traffic(stack, token, make_release, post_release, release_id, sql):
    """Releases through every stage before the expositions are read: one to
    the portal and WeChat, one to the portal and a bulletin board, and one the
    producer refuses (400)."""
    sent = []
    for fields in ({}, {**BULLETIN_ITEM, "doc_type": "notice"}):
        release = make_release(**fields)
        department = release["department"]
        response = post_release(release, token(department))
        assert response.status_code == 202, response.text
        sent.append(release_id(department, release["source_id"]))
    bad = make_release(title=None)
    assert post_release(bad, token("demo")).status_code == 400

    def delivered():
        rows = sql("SELECT count(*) FROM deliveries WHERE release_id = ANY (:'p1'::text[]) AND status = 'delivered'",
                   "{" + ",".join(sent) + "}")
        return int(rows[0][0]) == 4  # portal and wechat, portal and bulletin

    wait_until("the module's releases delivered on every channel", delivered, timeout=120, interval=0.5)
    return sent


def test_rules_load():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, describe(checked)
    config = promtool("check", "config", str(MONITORING / "prometheus.yml"))
    assert config.returncode == 0, describe(config)


def test_rule_unit_tests_pass():
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, describe(tested)


def test_every_alert_is_tested_and_has_a_runbook():
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    tested = {case["alertname"] for t in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
              for case in t.get("alert_rule_test", [])}
    doc = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9_ -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", doc, re.M)}
    for alert in alerts:
        assert alert["alert"] in tested, f"{alert['alert']} has no case in {RULE_TESTS.name}"
        assert alert.get("for"), f"{alert['alert']} has no for:"
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        page, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert page == "docs/monitoring.md" and anchor in anchors, f"{alert['alert']}: no section #{anchor}"


def test_expositions_pass_promtool(stack, traffic):
    for daemon in DAEMONS:
        text = scrape(stack.admin_url(daemon))
        checked = promtool("check", "metrics", stdin=text)
        problems = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
        assert checked.returncode == 0 and not problems, f"{daemon}: {describe(checked)}"


def test_rules_and_dashboard_read_only_exported_metrics(stack, traffic):
    exported = {"up"}
    for daemon in DAEMONS:
        exported |= exported_names(scrape(stack.admin_url(daemon)))
    rules, recorded = rule_exprs()
    used = {(where, name) for where, expr in rules.items() for name in expr_names(expr)}
    used |= {("dashboard", name) for expr in dashboard_exprs() for name in expr_names(expr)}
    assert any(name == "zwgk_deliveries_overdue" for _, name in used)  # the parser finds names at all
    unknown = []
    for where, name in sorted(used):
        if ":" in name:
            if name not in recorded:
                unknown.append(f"{where}: {name} (no recording rule)")
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in exported and base not in exported:
            unknown.append(f"{where}: {name}")
    assert not unknown, "metrics no daemon exports:\n" + "\n".join(unknown)


@pytest.fixture
def counting_fast(stack):
    """The fan-out counting overdue deliveries twice a second instead of every
    30 s, for this test; the stack's own settings again afterwards."""
    restart_daemon(stack, "zwgk-fanout", {"ZWGK_FANOUT_OVERDUE_INTERVAL_MS": "500"})
    yield
    restart_daemon(stack, "zwgk-fanout")


def test_overdue_gauge_counts_a_late_delivery(stack, counting_fast, token, make_release, post_release, release_id,
                                              delivery):
    fanout = stack.admin_url("zwgk-fanout")
    series = {"channel": "bulletin", "status": "pending"}

    def counted():
        return sample(scrape(fanout), "zwgk_deliveries_overdue", series)

    wait_until("zwgk_deliveries_overdue counted", lambda: counted() is not None, timeout=30)
    before = counted()
    stopped = stack.stop_daemon("zwgk-bulletin")
    assert stopped.returncode == 0, describe(stopped)
    try:
        release = make_release(**BULLETIN_ITEM, doc_type="notice", formed_at=LONG_AGO,
                               secrecy_review={"reviewer": "王敏", "reviewed_at": "2025-01-06T10:00:00+08:00"})
        rid = release_id(BULLETIN_ITEM["department"], release["source_id"])
        response = post_release(release, token(BULLETIN_ITEM["department"]))
        assert response.status_code == 202, response.text
        wait_until("the bulletin work item pending", lambda: (delivery(rid, 1, "bulletin") or {}).get("status")
                   == "pending", timeout=60, interval=0.5)
        wait_until("zwgk_deliveries_overdue{channel=bulletin,status=pending} up by one",
                   lambda: counted() >= before + 1, timeout=30, interval=0.5)
        stamp = sample(scrape(fanout), "zwgk_deliveries_overdue_timestamp_seconds", {})
        assert stamp and stamp > 0
    finally:
        start_daemon(stack, "zwgk-bulletin")
    wait_until("the bulletin work item delivered", lambda: delivery(rid, 1, "bulletin")["status"] == "delivered",
               timeout=90, interval=0.5)
    wait_until("zwgk_deliveries_overdue back down", lambda: counted() <= before, timeout=30, interval=0.5)
