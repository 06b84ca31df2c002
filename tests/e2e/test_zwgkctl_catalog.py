"""End to end: `zwgkctl catalog import / list / coverage / reevaluate` against
the running stack (CONTRACT §6, docs/catalog.md). An import is validated whole
(every problem reported with its line, nothing written), becomes a new
catalog version with a difference summary and an audit record; list --json
carries every field of every item; coverage names the gaps; and a release held
as unclassified goes out once the catalog can classify it."""

import copy
import csv
import io
import json
import pathlib
import uuid

import pytest
from conftest import ROOT, describe, wait_until

EXAMPLES = ROOT / "deploy" / "examples"
EXAMPLE_CODES = {"ylfw-005", "ylfw-006", "ggwhfw-004"}
CONTRACT_FIELDS = {  # CONTRACT §6: code, domain, names, time limit, channels, audience, mode, level, departments
    "code", "domain_code", "domain_name", "item_l1", "item_l2", "time_limit_text", "time_limit_kind",
    "time_limit_days", "period", "channels", "manual_channels", "audience", "mode", "level", "bodies",
    "column_path", "active", "catalog_version",
}


def run_json(ctl, *args, rc=0):
    proc = ctl("--json", *args)
    assert proc.returncode == rc, describe(proc)
    return json.loads(proc.stdout)


def versions(sql):
    return int(sql("SELECT count(*) FROM catalog_versions")[0][0])


def fresh_domain():
    return "t" + uuid.uuid4().hex[:12]


def item(domain, number, **fields):
    """An item of domain that demo may publish, on the portal."""
    value = {
        "code": f"{domain}-{number:03d}", "domain_code": domain, "item_l1": "测试事项", "item_l2": f"测试二级事项{number}",
        "content": "测试内容", "basis": "《中华人民共和国政府信息公开条例》第二十条",
        "time_limit_text": "信息形成或变更之日起20个工作日内", "time_limit_kind": "working_days",
        "time_limit_days": 20, "audience": "public", "mode": "active", "level": "county",
        "column_path": f"{domain}/x{number}", "channels": ["portal"], "bodies": ["demo"],
    }
    value.update(fields)
    return value


def catalog_file(tmp_path, domain, items, rules=(), name="catalog.json"):
    doc = {
        "note": "e2e",
        "domains": [{"code": domain, "name": f"测试领域{domain}", "name_en": "Test domain", "sort": 900}],
        "items": list(items),
        "rules": list(rules),
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_example_files_import_as_new_versions(ctl, sql):
    for name in ("catalog.csv", "catalog.json"):
        before = int(sql("SELECT max(version) FROM catalog_versions")[0][0])
        out = run_json(ctl, "catalog", "import", str(EXAMPLES / name), "--no-reevaluate")
        version = out["catalog_version"]
        assert version == before + 1
        counts = out["counts"]
        assert counts["added"] + counts["changed"] + counts["unchanged"] == 3, out
        assert counts["deactivated"] == 0
        assert {e["code"] for e in out["items"]["added"] + out["items"]["changed"]} <= EXAMPLE_CODES
        [[source, note]] = sql("SELECT source, note FROM catalog_versions WHERE version = :'p1'", version)
        assert source == name and note
        [[detail]] = sql("SELECT detail::text FROM audit_log WHERE action = 'catalog.import' "
                         "AND (detail ->> 'version')::int = :'p1'", version)
        detail = json.loads(detail)
        assert detail["source"] == name
        assert detail["unchanged"] == counts["unchanged"]
        assert len(detail["added"]) == counts["added"]
        # The same file again changes nothing, but is a version of its own.
        again = run_json(ctl, "catalog", "import", str(EXAMPLES / name), "--no-reevaluate")
        assert again["catalog_version"] == version + 1
        assert again["counts"] == {"added": 0, "changed": 0, "unchanged": 3, "deactivated": 0}
        if name == "catalog.json":
            assert again["rules"] == {"added": 0, "changed": 0, "unchanged": 3}

    rows = sql("SELECT i.code, i.active, i.time_limit_kind, coalesce(i.period, ''), "
               "  (SELECT string_agg(channel, ';' ORDER BY channel) FROM catalog_item_channels WHERE item_code = i.code), "
               "  (SELECT count(*) FROM portal_columns WHERE item_code = i.code) "
               "FROM catalog_items i WHERE i.code IN ('ylfw-005', 'ylfw-006', 'ggwhfw-004') ORDER BY i.code")
    with open(EXAMPLES / "catalog.csv", encoding="utf-8") as f:
        expected = {r["code"]: r for r in csv.DictReader(f)}
    assert len(rows) == 3
    for code, active, kind, period, channels, columns in rows:
        assert active == "t" and columns == "1"
        assert kind == expected[code]["time_limit_kind"] and period == expected[code]["period"]
        assert channels == ";".join(sorted(expected[code]["channels"].split(";")))
    [[column_name]] = sql("SELECT name FROM portal_columns WHERE path = 'ylfw/jtylcw'")
    assert column_name == "家庭养老床位"


def test_the_difference_names_what_changed(ctl, sql, tmp_path):
    domain = fresh_domain()
    first, second = item(domain, 1), item(domain, 2, mode="on_request", channels=["service_center"])
    out = run_json(ctl, "catalog", "import", str(catalog_file(tmp_path, domain, [first, second])), "--no-reevaluate")
    assert out["counts"] == {"added": 2, "changed": 0, "unchanged": 0, "deactivated": 0}
    assert out["domains"] == {"added": 1, "changed": 0}
    assert out["columns_created"] == 3  # the domain's column and one per item
    created = out["catalog_version"]

    changed = copy.deepcopy(first)
    changed.update(time_limit_days=10, channels=["portal", "wechat", "gazette"], column_name="新栏目名")
    out = run_json(ctl, "catalog", "import", str(catalog_file(tmp_path, domain, [changed, second])), "--no-reevaluate")
    assert out["counts"] == {"added": 0, "changed": 1, "unchanged": 1, "deactivated": 0}
    [entry] = out["items"]["changed"]
    assert entry["code"] == first["code"]
    assert entry["fields"] == ["time_limit_days", "channels", "column_name"]
    assert sql("SELECT time_limit_days, catalog_version FROM catalog_items WHERE code = :'p1'", first["code"]) == [
        ["10", str(out["catalog_version"])]]
    assert sql("SELECT catalog_version FROM catalog_items WHERE code = :'p1'", second["code"]) == [[str(created)]]
    assert sql("SELECT channel FROM catalog_item_channels WHERE item_code = :'p1' ORDER BY channel",
               first["code"]) == [["gazette"], ["portal"], ["wechat"]]
    assert sql("SELECT name FROM portal_columns WHERE path = :'p1'", first["column_path"]) == [["新栏目名"]]

    # The import adds and updates; only --replace deactivates what the file leaves out.
    only_first = catalog_file(tmp_path, domain, [changed], name="only-first.json")
    out = run_json(ctl, "catalog", "import", str(only_first), "--no-reevaluate")
    assert out["counts"]["deactivated"] == 0
    before = versions(sql)
    [[active]] = sql("SELECT count(*) FROM catalog_items WHERE active AND code <> :'p1'", first["code"])
    out = run_json(ctl, "catalog", "import", str(only_first), "--replace", "--dry-run")
    assert out["dry_run"] is True
    assert out["counts"]["deactivated"] == int(active)
    assert second["code"] in {e["code"] for e in out["items"]["deactivated"]}
    assert versions(sql) == before, "a dry run wrote a version"
    assert sql("SELECT active FROM catalog_items WHERE code = :'p1'", second["code"]) == [["t"]]

    # Withdrawn from the catalog: the item stays, inactive.
    gone = dict(second, active=False)
    out = run_json(ctl, "catalog", "import", str(catalog_file(tmp_path, domain, [changed, gone])), "--no-reevaluate")
    assert out["items"]["changed"] == [{"code": second["code"], "item_l2": second["item_l2"], "fields": ["active"]}]
    assert sql("SELECT active FROM catalog_items WHERE code = :'p1'", second["code"]) == [["f"]]


BAD_CSV = """\
code,domain_code,item_l1,item_l2,content,basis,time_limit_text,time_limit_kind,time_limit_days,period,audience,mode,level,column_path,channels,bodies
ylfw-901,ylfw,一级,二级,内容,依据,20个工作日,working_days,,,public,active,county,ylfw/e901,portal,demo
Bad-1,ylfw,一级,二级,内容,依据,实时,realtime,,,public,active,county,ylfw/e902,portal,demo
ylfw-903,ylfw,一级,二级,"内容，跨
两行",依据,实时,realtime,,,everyone,active,county,ylfw/e903,portal;fax,demo;no-such-dept
ylfw-903,ylfw,一级,,内容,依据,按月,periodic,,,public,active,county,czyjs/e904,portal,demo
ylfw-905,nosuchdomain,一级,二级,内容,依据,实时,realtime,,,public,active,county,ylfw/e905,portal,demo
"""


def test_every_problem_is_reported_with_its_line_and_nothing_written(ctl, sql, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    before = versions(sql)
    proc = ctl("catalog", "import", str(path))
    assert proc.returncode == 1, describe(proc)
    expected = [
        (2, "ylfw-901: time_limit_days:"),        # required for working_days
        (3, "Bad-1: code:"),                      # not an item code
        (4, "ylfw-903: audience:"),               # not public/group
        (4, "ylfw-903: channels: unknown channel 'fax'"),
        (4, "ylfw-903: bodies: unknown department 'no-such-dept'"),
        (6, "ylfw-903: code: item ylfw-903 is also on line 4"),  # the quoted cell spans lines 4-5
        (6, "ylfw-903: item_l2: must not be empty"),
        (6, "ylfw-903: period:"),                 # required for periodic
        (6, "ylfw-903: column_path:"),            # not under its domain
        (7, "ylfw-905: domain_code: unknown domain 'nosuchdomain'"),
    ]
    for line, text in expected:
        assert f"{path}:{line}: error: {text}" in proc.stderr, f"missing line {line} {text!r}:\n{proc.stderr}"
    assert "nothing was written" in proc.stderr
    assert versions(sql) == before
    assert sql("SELECT count(*) FROM catalog_items WHERE code IN ('ylfw-901', 'ylfw-903', 'ylfw-905')") == [["0"]]

    # JSON: the line of each item, and --json lists the problems for scripts.
    domain = fresh_domain()
    good = item(domain, 1)
    doc = catalog_file(tmp_path, domain, [good, item(domain, 2, time_limit_kind="days", time_limit_days=0,
                                                       channels="portal")])
    proc = ctl("--json", "catalog", "import", str(doc))
    assert proc.returncode == 1, describe(proc)
    errors = json.loads(proc.stdout)["errors"]
    lines = doc.read_text(encoding="utf-8").splitlines()
    second_item = next(i for i, text in enumerate(lines, 1) if f'"{domain}-002"' in text) - 1  # its opening brace
    assert {(e["line"], e["field"]) for e in errors} == {(second_item, "time_limit_days"), (second_item, "channels")}
    assert all(e["where"] == f"items[1] {domain}-002" for e in errors)
    assert versions(sql) == before
    assert sql("SELECT count(*) FROM catalog_domains WHERE code = :'p1'", domain) == [["0"]]

    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [\n  {"code": "x"},,\n]}', encoding="utf-8")
    proc = ctl("catalog", "import", str(broken))
    assert proc.returncode == 1 and f"{broken}:2: error: not valid JSON" in proc.stderr, describe(proc)


def test_list_json_has_every_item_with_the_contract_fields(ctl, sql):
    out = run_json(ctl, "catalog", "list")
    assert out["catalog_version"] == int(sql("SELECT max(version) FROM catalog_versions")[0][0])
    items = {i["code"]: i for i in out["items"]}
    assert set(items) == {c for [c] in sql("SELECT code FROM catalog_items WHERE active")}
    for value in items.values():
        assert CONTRACT_FIELDS <= set(value), value
    budget = items["czyjs-001"]
    assert (budget["domain_code"], budget["domain_name"], budget["item_l1"], budget["item_l2"]) == (
        "czyjs", "财政预决算", "财政预算", "政府预算")
    assert (budget["time_limit_kind"], budget["time_limit_days"]) == ("working_days", 20)
    assert {"portal", "wechat"} <= set(budget["channels"])
    assert {"demo", "xhaxq-czj"} <= set(budget["bodies"])
    assert (budget["audience"], budget["mode"], budget["level"], budget["column_path"]) == (
        "public", "active", "county", "czyjs/zfys")
    assert items["jz-001"]["time_limit_kind"] == "realtime"
    assert set(items["jz-001"]["channels"]) == {"portal", "wechat", "broadcast", "bulletin"}
    assert items["hjgl-004"]["mode"] == "on_request" and items["hjgl-004"]["channels"] == []

    only = run_json(ctl, "catalog", "list", "--domain", "czyjs")
    assert {i["domain_code"] for i in only["items"]} == {"czyjs"}
    everything = run_json(ctl, "catalog", "list", "--all")
    assert len(everything["items"]) == int(sql("SELECT count(*) FROM catalog_items")[0][0])

    table = ctl("catalog", "list", "--domain", "czyjs")
    assert table.returncode == 0 and "czyjs-001" in table.stdout and "\033[" not in table.stdout
    assert ctl("catalog", "list", "--domain", "nosuchdomain").returncode == 1
    assert ctl("catalog", "list", "--active", "--all").returncode == 2


def test_list_json_imports_back_unchanged(ctl, tmp_path):
    listed = run_json(ctl, "catalog", "list", "--domain", "czyjs")
    path = tmp_path / "czyjs.json"
    path.write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
    out = run_json(ctl, "catalog", "import", str(path), "--dry-run")
    assert out["counts"] == {"added": 0, "changed": 0, "unchanged": len(listed["items"]), "deactivated": 0}


COVERAGE_SQL = """
SELECT i.code,
       NOT EXISTS (SELECT 1 FROM portal_columns p WHERE p.item_code = i.code OR p.path = i.column_path),
       NOT EXISTS (SELECT 1 FROM catalog_item_channels c WHERE c.item_code = i.code),
       NOT EXISTS (SELECT 1 FROM catalog_item_bodies b WHERE b.item_code = i.code)
FROM catalog_items i WHERE i.active ORDER BY i.code
"""


def coverage_gaps_by_sql(sql):
    gaps = {}
    for code, column, channel, body in sql(COVERAGE_SQL):
        missing = [name for name, gap in (("portal_column", column), ("channel", channel),
                                          ("responsible_department", body)) if gap == "t"]
        if missing:
            gaps[code] = missing
    return gaps


def test_coverage_lists_the_gaps(ctl, sql, tmp_path):
    proc = ctl("--json", "catalog", "coverage")
    report = json.loads(proc.stdout)
    gaps = {g["code"]: g["missing"] for g in report["gaps"]}
    assert gaps == coverage_gaps_by_sql(sql)
    assert report["active_items"] == int(sql("SELECT count(*) FROM catalog_items WHERE active")[0][0])
    assert report["covered"] == report["active_items"] - len(gaps)
    assert proc.returncode == (1 if gaps else 0), describe(proc)

    # An item without channels or bodies, and one whose column was removed.
    domain = fresh_domain()
    bare, uncolumned = item(domain, 1, channels=[], bodies=[]), item(domain, 2)
    path = catalog_file(tmp_path, domain, [bare, uncolumned])
    run_json(ctl, "catalog", "import", str(path), "--no-reevaluate")
    sql("DELETE FROM portal_columns WHERE item_code = :'p1'", uncolumned["code"])
    proc = ctl("--json", "catalog", "coverage", "--domain", domain)
    assert proc.returncode == 1, describe(proc)
    report = json.loads(proc.stdout)
    assert {g["code"]: g["missing"] for g in report["gaps"]} == {
        bare["code"]: ["channel", "responsible_department"], uncolumned["code"]: ["portal_column"]}
    table = ctl("catalog", "coverage", "--domain", domain)
    assert table.returncode == 1
    assert "channel, responsible department" in table.stdout and "portal column" in table.stdout

    # Importing the item again restores its column; withdrawing the other closes its gap.
    path = catalog_file(tmp_path, domain, [dict(bare, active=False), uncolumned])
    assert run_json(ctl, "catalog", "import", str(path), "--no-reevaluate")["columns_created"] == 1
    proc = ctl("--json", "catalog", "coverage", "--domain", domain)
    assert proc.returncode == 0 and json.loads(proc.stdout)["gaps"] == [], describe(proc)


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def hold_unclassified(make_release, post_release, release_id, demo_token, sql, title, **fields):
    """Posts a release no rule matches and waits for it to be held as unclassified."""
    release = make_release(catalog_code=None, doc_type="notice", title=title, **fields)
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    wait_until("held as unclassified", lambda: sql(
        "SELECT reasons FROM review_queue WHERE release_id = :'p1' AND status = 'pending'", rid) == [["{unclassified}"]])
    return rid


def test_import_sends_on_what_it_can_now_classify(
    ctl, sql, tmp_path, stack, make_release, post_release, release_id, demo_token, consume_until, wait_http,
):
    keyword = f"复评{uuid.uuid4().hex[:8]}"
    rid = hold_unclassified(make_release, post_release, release_id, demo_token, sql, f"{keyword}工作安排的通知")

    domain = fresh_domain()
    target = item(domain, 1)
    rule = {"department_code": "demo", "keywords": [keyword], "catalog_code": target["code"], "priority": 5}
    out = run_json(ctl, "catalog", "import", str(catalog_file(tmp_path, domain, [target], [rule])))
    version = out["catalog_version"]
    results = {r["release_id"]: r for r in out["reevaluation"]["releases"]}
    assert results[rid]["outcome"] == "released", out["reevaluation"]
    [[rule_id]] = sql("SELECT id FROM classification_rules WHERE catalog_code = :'p1'", target["code"])
    assert results[rid]["classified_by"] == f"rule:{rule_id}"

    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    tags = tagged["value"]["tags"]
    assert (tags["catalog_code"], tags["classified_by"], tags["catalog_version"]) == (
        target["code"], f"rule:{rule_id}", version)
    assert sql("SELECT status, decided_by, decision_note FROM review_queue WHERE release_id = :'p1'", rid) == [
        ["approved", "catalog-import", f"re-evaluated after catalog version {version}"]]
    assert sql("SELECT actor, detail ->> 'catalog_code' FROM audit_log "
               "WHERE action = 'catalog.reevaluated' AND release_id = :'p1'", rid) == [["catalog-import", target["code"]]]
    wait_http(f"{stack.portal_url}/zwgk/{target['column_path']}/{rid}.html", 200, timeout=60)


def test_reevaluate_command_keeps_what_a_person_must_decide(
    ctl, sql, make_release, post_release, release_id, demo_token, consume_until,
):
    keyword = f"复评{uuid.uuid4().hex[:8]}"
    plain = hold_unclassified(make_release, post_release, release_id, demo_token, sql, f"{keyword}活动通知")
    on_request = hold_unclassified(make_release, post_release, release_id, demo_token, sql, f"{keyword}迁移办理结果")

    out = run_json(ctl, "catalog", "reevaluate")
    results = {r["release_id"]: r for r in out["releases"]}
    assert results[plain]["outcome"] == "unclassified" and results[on_request]["outcome"] == "unclassified"

    # hjgl-004 is on request: recorded, never published, so a person decides.
    rules = sql("INSERT INTO classification_rules (department_code, keywords, catalog_code, priority) VALUES "
                "('demo', ARRAY[:'p1' || '迁移办理结果'], 'hjgl-004', 1), ('demo', ARRAY[:'p1'], 'czyjs-001', 2) "
                "RETURNING id", keyword)
    try:
        out = run_json(ctl, "catalog", "reevaluate")
        results = {r["release_id"]: r for r in out["releases"]}
        assert results[plain]["outcome"] == "released", out
        assert results[on_request]["outcome"] == "held" and "on-request" in results[on_request]["detail"], out
        [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == plain)
        assert tagged["value"]["tags"]["catalog_code"] == "czyjs-001"
        assert sql("SELECT decided_by FROM review_queue WHERE release_id = :'p1'", plain) == [["catalog-reevaluate"]]
        assert sql("SELECT status FROM review_queue WHERE release_id = :'p1'", on_request) == [["pending"]]
        assert sql("SELECT count(*) FROM audit_log WHERE action = 'catalog.reevaluated' AND release_id = :'p1'",
                   plain) == [["1"]]
    finally:
        for [rule_id] in rules:
            sql("UPDATE classification_rules SET active = false WHERE id = :'p1'", rule_id)
        ctl("review", "reject", on_request, "--reason", "e2e: on-request test release")
