#!/usr/bin/env python3
"""Writes the conformance corpus: tests/conformance/cases/*.json and EXPECTED.json.

Each case is one raw request body (some are deliberately not JSON, or not UTF-8) and
its expected verdict under release.v1: valid or not, and for an invalid body the set
of JSON Pointers the violations are reported at. A body that cannot be parsed is one
violation at "". The expectations are written here by hand from the rules of
schemas/release.v1.json and docs/api.md, never computed by either judge.

Where zwgk-producer's C validator and a JSON Schema validator legitimately differ,
the entry carries "differs": {"python": {"valid", "paths"}, "because": ...}; the
top-level verdict is then the producer's (what a client gets back), and the
"python" one is what a stock draft 2020-12 validator says.

The output is deterministic: running this twice writes the same bytes, and
test_conformance.py checks that the committed corpus is what this script writes.

    python3 tests/conformance/make_cases.py [--out DIR]
"""

import argparse
import copy
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "cases"

DELETE = object()

SHA = "77a41b93c2d7be9ade580dbec5e2ab8c0f5ff5e0ed1bb871787fb7816f303c1d"
POLICY_ID = "f1ef95de212fb18d82e47e636667c12e"

ATTACHMENT = {
    "name": "附件1：2025年西海岸新区一般公共预算表1.pdf",
    "url": "https://files.demo.example/czj/2025/budget-table-01.pdf",
    "sha256": SHA,
    "bytes": 120001,
}

# A publish that carries every field release.v1 allows except interprets.
FULL = {
    "source_id": "budget-2025-001",
    "revision": 1,
    "action": "publish",
    "department": "demo",
    "title": "2025年西海岸新区一般公共预算",
    "body": "<h2>一、收入预算</h2><p>2025年西海岸新区一般公共预算收入安排320.5亿元。</p>",
    "summary": "西海岸新区财政局公开2025年一般公共预算收支安排。",
    "doc_type": "budget",
    "catalog_code": "czyjs-001",
    "region_code": "370211",
    "formed_at": "2025-01-20T09:00:00+08:00",
    "publish_at": "2025-01-21T08:00:00+08:00",
    "secrecy_review": {"reviewer": "王建国", "reviewed_at": "2025-01-20T16:30:00+08:00"},
    "urgency": "routine",
    "area": "西海岸新区全域",
    "attachments": [ATTACHMENT],
}

MINIMAL = {
    "source_id": "notice-2025-014",
    "revision": 1,
    "action": "publish",
    "department": "demo",
    "title": "关于春节期间办事大厅开放时间的通知",
    "body": "<p>春节期间办事大厅每日9:00至12:00开放。</p>",
    "doc_type": "notice",
    "region_code": "370211001",
    "formed_at": "2025-01-20T09:00:00+08:00",
    "secrecy_review": {"reviewer": "李娜", "reviewed_at": "2025-01-20T10:00:00+08:00"},
}

WITHDRAW = {
    "source_id": "budget-2025-001",
    "revision": 3,
    "action": "withdraw",
    "department": "demo",
    "region_code": "370211",
}

REQUIRED_ALWAYS = ["source_id", "revision", "action", "department", "region_code"]
REQUIRED_CONTENT = ["title", "body", "doc_type", "formed_at", "secrecy_review"]

# White space and line terminators in ECMA-262 beyond space, tab, CR and LF: the
# "\S" of the url pattern excludes these too.
ECMA_SPACES = {
    "vertical-tab": "\u000b",
    "form-feed": "\u000c",
    "nbsp": "\u00a0",
    "ideographic-space": "\u3000",
    "line-separator": "\u2028",
    "bom": "\ufeff",
}

# name -> (body bytes, EXPECTED entry), filled by build().
CASES = {}


def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def edit(base, changes):
    """A deep copy of base with changes applied: {JSON Pointer: value or DELETE}."""
    doc = copy.deepcopy(base)
    for pointer, value in changes.items():
        *parents, last = [_unescape(t) for t in pointer.split("/")[1:]]
        node = doc
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value
    return doc


def dumps(doc):
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def splice(base, changes, raw):
    """base edited by changes, then each placeholder string value named in raw
    (placeholder -> bytes) replaced, quotes included, by those bytes: for what a
    JSON encoder will not write (escapes, bad bytes, duplicate keys)."""
    text = dumps(edit(base, changes))
    for placeholder, replacement in raw.items():
        quoted = json.dumps(placeholder).encode()
        assert text.count(quoted) == 1, placeholder
        text = text.replace(quoted, replacement)
    return text


def case(name, body, valid, paths=(), why="", python=None, because=None):
    assert name not in CASES, name
    assert valid == (not paths), name
    assert why, name
    if isinstance(body, (dict, list, str, int, float)) or body is None:
        body = dumps(body)
    entry = {"valid": valid, "paths": sorted(set(paths)), "why": why}
    if python is not None:
        assert because, name
        entry["differs"] = {
            "python": {"valid": python[0], "paths": sorted(set(python[1]))},
            "because": because,
        }
    CASES[name + ".json"] = (body, entry)


def ok(name, body, why):
    case(name, body, True, (), why)


def bad(name, body, paths, why, **kw):
    case(name, body, False, paths, why, **kw)


# ---------------------------------------------------------------- valid bodies


def valid_cases():
    ok("publish-full", FULL, "every field release.v1 allows, each within its rule")
    ok("publish-minimal", MINIMAL, "only what a publish requires")
    ok("update-minimal", edit(MINIMAL, {"/action": "update", "/revision": 2}), "an update requires what a publish does")
    ok("withdraw-minimal", WITHDRAW, "a withdraw needs only the identifying fields")
    ok(
        "withdraw-with-content",
        edit(FULL, {"/action": "withdraw", "/revision": 3}),
        "a withdraw may carry the other fields; they are checked by the same rules",
    )
    ok(
        "interpretation-with-interprets",
        edit(MINIMAL, {"/doc_type": "interpretation", "/interprets": POLICY_ID}),
        "an interpretation names the release_id of its policy",
    )
    ok("region-code-12-digits", edit(MINIMAL, {"/region_code": "370211001001"}), "a village or community code")
    ok("attachments-empty", edit(FULL, {"/attachments": []}), "an empty list of attachments")
    ok("attachments-20", edit(FULL, {"/attachments": [ATTACHMENT] * 20}), "at most 20 attachments: 20 is allowed")
    ok(
        "attachment-http-zero-bytes",
        edit(FULL, {"/attachments/0/url": "http://files.demo.example/a.pdf", "/attachments/0/bytes": 0}),
        "http is allowed as well as https; bytes may be 0",
    )
    ok(
        "attachment-bytes-int64-max",
        edit(FULL, {"/attachments/0/bytes": 9223372036854775807}),
        "bytes up to 2^63-1, the largest integer jansson represents",
    )
    ok("attachment-bytes-minus-zero", splice(FULL, {"/attachments/0/bytes": "@B"}, {"@B": b"-0"}), "-0 is the integer 0")
    ok(
        "attachment-url-nel",
        edit(FULL, {"/attachments/0/url": "https://files.demo.example/a\u0085b.pdf"}),
        "U+0085 is not white space in ECMA-262, whose \\S the url pattern uses",
    )
    ok("revision-int32-max", edit(MINIMAL, {"/revision": 2147483647}), "the largest revision, 2^31-1")
    ok("department-64", edit(MINIMAL, {"/department": "d" * 64}), "a department code of 64 characters")
    ok("department-trailing-hyphen", edit(MINIMAL, {"/department": "jy_j-"}), "_ and - are allowed after the first character")
    ok("catalog-code-64", edit(FULL, {"/catalog_code": "a" * 31 + "-" + "b" * 32}), "a catalog code of 64 characters")
    ok(
        "escaped-key-is-known",
        _escaped_key_body(),
        "\\u0074itle decodes to title, a known member",
    )


def _escaped_key_body():
    text = dumps(MINIMAL)
    assert text.count(b'"title":') == 1
    return text.replace(b'"title":', b'"\\u0074itle":')


# ---------------------------------------------------------------- lengths in characters


def length_cases():
    emoji, cjk = "\U0001f4e2", "预"
    limits = [
        # name, pointer, max, base, filler
        ("title", "/title", 200, MINIMAL, "t"),
        ("summary", "/summary", 500, FULL, cjk),
        ("area", "/area", 200, FULL, cjk),
        ("reviewer", "/secrecy_review/reviewer", 64, MINIMAL, emoji),
        ("attachment-name", "/attachments/0/name", 255, FULL, "n"),
    ]
    for name, pointer, limit, base, filler in limits:
        ok(f"{name}-{limit}", edit(base, {pointer: filler * limit}), f"{name}: at most {limit} characters")
        bad(
            f"{name}-{limit + 1}",
            edit(base, {pointer: filler * (limit + 1)}),
            [pointer],
            f"{name}: {limit + 1} characters is one too many",
        )
    ok("title-1", edit(MINIMAL, {"/title": "通"}), "a title of one character")
    ok("title-200-emoji", edit(MINIMAL, {"/title": emoji * 200}), "an emoji (4 bytes of UTF-8) is one character")
    bad("title-201-emoji", edit(MINIMAL, {"/title": emoji * 201}), ["/title"], "201 emoji are 201 characters")
    ok("title-200-cjk", edit(MINIMAL, {"/title": cjk * 200}), "a CJK character (3 bytes of UTF-8) is one character")
    bad("title-201-cjk", edit(MINIMAL, {"/title": cjk * 201}), ["/title"], "201 CJK characters")
    ok(
        "title-200-combining",
        edit(MINIMAL, {"/title": "e\u0301" * 100}),
        "a base letter and a combining accent are two code points: 100 pairs are 200",
    )
    bad(
        "title-201-combining",
        edit(MINIMAL, {"/title": "e\u0301" * 100 + "\u0301"}),
        ["/title"],
        "lengths count code points, not grapheme clusters: 201",
    )
    ok(
        "title-200-escaped-surrogate-pairs",
        splice(MINIMAL, {"/title": "@T"}, {"@T": b'"' + b"\\ud83d\\udce2" * 200 + b'"'}),
        "an escaped surrogate pair is one character",
    )
    ok("source-id-1", edit(MINIMAL, {"/source_id": "x"}), "a source_id of one character")
    ok(
        "source-id-128",
        edit(MINIMAL, {"/source_id": ("AZaz09._:/-" * 12)[:128]}),
        "128 characters, every allowed kind",
    )
    bad("source-id-129", edit(MINIMAL, {"/source_id": "s" * 129}), ["/source_id"], "129 characters")
    prefix = "https://files.demo.example/"
    for n, valid in [(2048, True), (2049, False)]:
        body = edit(FULL, {"/attachments/0/url": prefix + "u" * (n - len(prefix))})
        case(f"attachment-url-{n}", body, valid, [] if valid else ["/attachments/0/url"], f"a URL of {n} characters")
    ok("body-empty", edit(MINIMAL, {"/body": ""}), "an empty body is within the schema")
    ok("body-262144", edit(MINIMAL, {"/body": "b" * 262144}), "a body of 262144 characters")
    ok("body-262144-bytes-cjk", edit(MINIMAL, {"/body": "<p>" + "预" * 87379 + "</p>"}),
       "exactly 262144 bytes of UTF-8 (87379 CJK characters and the markup): the limit itself")
    bad(
        "body-262145-bytes-cjk",
        edit(MINIMAL, {"/body": "<p>" + "预" * 87380 + "</p>"}),
        ["/body"],
        "262147 bytes of UTF-8: over 256 KiB, though far under 262144 characters",
        python=(True, []),
        because="the body's limit is 256 KiB of UTF-8 (CONTRACT section 2); JSON Schema can only count characters",
    )
    bad("body-262145", edit(MINIMAL, {"/body": "b" * 262145}), ["/body"], "a body of 262145 characters")


# ---------------------------------------------------------------- required members


def required_cases():
    for name in REQUIRED_ALWAYS:
        bad(f"{name.replace('_', '-')}-missing", edit(MINIMAL, {"/" + name: DELETE}), ["/" + name], f"{name} is always required")
    bad(
        "withdraw-region-code-missing",
        edit(WITHDRAW, {"/region_code": DELETE}),
        ["/region_code"],
        "a withdraw still needs region_code",
    )
    for action in ("publish", "update"):
        for name in REQUIRED_CONTENT:
            base = edit(MINIMAL, {"/action": action})
            bad(
                f"{action}-{name.replace('_', '-')}-missing",
                edit(base, {"/" + name: DELETE}),
                ["/" + name],
                f"{name} is required for {action}",
            )
    bad("empty-object", {}, ["/" + n for n in REQUIRED_ALWAYS], "every always-required member, each at its own name")
    bad(
        "publish-only-identity",
        edit(WITHDRAW, {"/action": "publish"}),
        ["/" + n for n in REQUIRED_CONTENT],
        "a publish without its content: every content member is reported",
    )


# ---------------------------------------------------------------- types, nested too


def type_cases():
    wrong = {
        "/source_id": 12345,
        "/revision": "1",
        "/department": ["demo"],
        "/title": 2025,
        "/body": ["<p>x</p>"],
        "/summary": 0,
        "/catalog_code": None,
        "/region_code": 370211,
        "/formed_at": 1737334800,
        "/publish_at": False,
        "/area": {"name": "西海岸新区"},
        "/attachments": {"0": ATTACHMENT},
        "/secrecy_review/reviewer": 7,
        "/secrecy_review/reviewed_at": None,
        "/attachments/0/name": ["附件1.pdf"],
        "/attachments/0/url": {"href": "https://files.demo.example/a.pdf"},
        "/attachments/0/sha256": 1,
        "/attachments/0/bytes": "120001",
    }
    for pointer, value in wrong.items():
        name = pointer[1:].replace("/0/", "-").replace("/", "-").replace("_", "-")
        bad(f"{name}-wrong-type", edit(FULL, {pointer: value}), [pointer], f"{pointer} of type {type(value).__name__}")
    bad("title-null", edit(MINIMAL, {"/title": None}), ["/title"], "present but null: a type error, not a missing member")
    bad("attachments-null", edit(FULL, {"/attachments": None}), ["/attachments"], "null is not an array")
    bad("revision-null", edit(MINIMAL, {"/revision": None}), ["/revision"], "null is not an integer")
    bad("revision-true", edit(MINIMAL, {"/revision": True}), ["/revision"], "a boolean is not an integer")
    bad("secrecy-review-string", edit(MINIMAL, {"/secrecy_review": "王建国"}), ["/secrecy_review"], "secrecy_review must be an object")
    bad("secrecy-review-array", edit(MINIMAL, {"/secrecy_review": [MINIMAL["secrecy_review"]]}), ["/secrecy_review"], "an array is not an object")
    bad(
        "secrecy-review-withdraw-string",
        edit(WITHDRAW, {"/secrecy_review": "done"}),
        ["/secrecy_review"],
        "on a withdraw secrecy_review is optional but still checked",
    )
    bad("attachment-item-array", edit(FULL, {"/attachments/0": [ATTACHMENT]}), ["/attachments/0"], "an attachment is an object, not an array")
    bad("attachment-item-string", edit(FULL, {"/attachments": [ATTACHMENT, "附件2.pdf"]}), ["/attachments/1"], "the second attachment is a string")
    bad("interprets-number", edit(MINIMAL, {"/doc_type": "interpretation", "/interprets": 1}), ["/interprets"], "interprets must be a string")
    bad("action-number", edit(MINIMAL, {"/action": 1}), ["/action"], "an action is one of three strings; content is then not required")
    bad("top-level-array", [MINIMAL], [""], "a release is an object")
    bad("top-level-null", b"null\n", [""], "jansson parses only an object or array at the top; null is not a release either way")
    bad("top-level-string", b'"release"\n', [""], "a string is not a release")


# ---------------------------------------------------------------- values


def value_cases():
    bad("action-unknown", edit(MINIMAL, {"/action": "delete"}), ["/action"], "not publish, update or withdraw")
    bad("action-capitalised", edit(MINIMAL, {"/action": "Publish"}), ["/action"], "enums are case-sensitive")
    bad("doc-type-unknown", edit(MINIMAL, {"/doc_type": "memo"}), ["/doc_type"], "not a doc_type")
    bad("urgency-unknown", edit(FULL, {"/urgency": "high"}), ["/urgency"], "not an urgency")
    bad("revision-zero", edit(MINIMAL, {"/revision": 0}), ["/revision"], "revision >= 1")
    bad("revision-negative", edit(MINIMAL, {"/revision": -1}), ["/revision"], "revision >= 1")
    bad("revision-int32-overflow", edit(MINIMAL, {"/revision": 2147483648}), ["/revision"], "revision <= 2^31-1")
    bad("revision-fraction", edit(MINIMAL, {"/revision": 1.5}), ["/revision"], "not an integer")
    bad("revision-minus-zero", splice(MINIMAL, {"/revision": "@R"}, {"@R": b"-0"}), ["/revision"], "-0 is 0, below 1")
    for name, spelling in [("revision-one-point-zero", b"1.0"), ("revision-exponent", b"1e0")]:
        bad(
            name,
            splice(MINIMAL, {"/revision": "@R"}, {"@R": spelling}),
            ["/revision"],
            f"{spelling.decode()} is a real number to jansson, so not an integer to the producer",
            python=(True, []),
            because="JSON Schema counts any number with a zero fraction as an integer; the producer takes "
            "revision as written, and only an integer literal is one",
        )
    bad(
        "attachment-bytes-one-point-zero",
        splice(FULL, {"/attachments/0/bytes": "@B"}, {"@B": b"1.0"}),
        ["/attachments/0/bytes"],
        "1.0 is a real number to jansson",
        python=(True, []),
        because="JSON Schema counts 1.0 as an integer; jansson does not",
    )
    bad(
        "revision-beyond-int64",
        splice(MINIMAL, {"/revision": "@R"}, {"@R": b"99999999999999999999"}),
        [""],
        "jansson cannot represent it: the body does not parse",
        python=(False, ["/revision"]),
        because="Python parses any integer, which is then above the maximum",
    )
    bad(
        "revision-real-overflow",
        splice(MINIMAL, {"/revision": "@R"}, {"@R": b"1e400"}),
        [""],
        "a real number beyond double: jansson refuses to parse",
        python=(False, ["/revision"]),
        because="Python parses 1e400 as infinity, which is not an integer",
    )
    bad(
        "attachment-bytes-int64-overflow",
        splice(FULL, {"/attachments/0/bytes": "@B"}, {"@B": b"9223372036854775808"}),
        [""],
        "2^63 is beyond jansson's integers: the body does not parse",
        python=(False, ["/attachments/0/bytes"]),
        because="Python parses it; the schema's maximum is 2^63-1",
    )
    bad("attachment-bytes-negative", edit(FULL, {"/attachments/0/bytes": -1}), ["/attachments/0/bytes"], "bytes >= 0")
    bad("attachment-bytes-fraction", edit(FULL, {"/attachments/0/bytes": 0.5}), ["/attachments/0/bytes"], "not an integer")

    bad("source-id-empty", edit(MINIMAL, {"/source_id": ""}), ["/source_id"], "at least one character")
    bad("source-id-space", edit(MINIMAL, {"/source_id": "budget 2025"}), ["/source_id"], "a space is not allowed")
    bad("source-id-cjk", edit(MINIMAL, {"/source_id": "预算-2025"}), ["/source_id"], "only ASCII letters, digits and ._:/-")
    bad("source-id-trailing-newline", edit(MINIMAL, {"/source_id": "budget-2025-001\n"}), ["/source_id"], "ECMA-262 $ is the end of the string")

    bad("department-uppercase", edit(MINIMAL, {"/department": "Demo"}), ["/department"], "lower case only")
    bad("department-leading-hyphen", edit(MINIMAL, {"/department": "-demo"}), ["/department"], "must start with a letter or digit")
    bad("department-leading-underscore", edit(MINIMAL, {"/department": "_demo"}), ["/department"], "must start with a letter or digit")
    bad("department-65", edit(MINIMAL, {"/department": "d" * 65}), ["/department"], "at most 64 characters")
    bad("department-empty", edit(MINIMAL, {"/department": ""}), ["/department"], "at least one character")
    bad("department-accented", edit(MINIMAL, {"/department": "dém"}), ["/department"], "ASCII only")

    bad("region-code-5-digits", edit(MINIMAL, {"/region_code": "37021"}), ["/region_code"], "6, 9 or 12 digits")
    bad("region-code-7-digits", edit(MINIMAL, {"/region_code": "3702110"}), ["/region_code"], "6, 9 or 12 digits")
    bad("region-code-fullwidth-digits", edit(MINIMAL, {"/region_code": "３７０２１１"}), ["/region_code"], "ASCII digits only")
    bad("region-code-trailing-newline", edit(MINIMAL, {"/region_code": "370211\n"}), ["/region_code"], "ECMA-262 $")

    bad("catalog-code-uppercase", edit(FULL, {"/catalog_code": "CZYJS-001"}), ["/catalog_code"], "lower case only")
    bad("catalog-code-leading-hyphen", edit(FULL, {"/catalog_code": "-czyjs"}), ["/catalog_code"], "no leading hyphen")
    bad("catalog-code-trailing-hyphen", edit(FULL, {"/catalog_code": "czyjs-"}), ["/catalog_code"], "no trailing hyphen")
    bad("catalog-code-double-hyphen", edit(FULL, {"/catalog_code": "czyjs--001"}), ["/catalog_code"], "no empty segment")
    bad("catalog-code-empty", edit(FULL, {"/catalog_code": ""}), ["/catalog_code"], "at least one character")
    bad("catalog-code-65", edit(FULL, {"/catalog_code": "c" * 65}), ["/catalog_code"], "at most 64 characters")

    bad(
        "interpretation-without-interprets",
        edit(MINIMAL, {"/doc_type": "interpretation"}),
        ["/interprets"],
        "an interpretation must name its policy",
    )
    bad(
        "interprets-without-interpretation",
        edit(MINIMAL, {"/interprets": POLICY_ID}),
        ["/interprets"],
        "interprets is allowed only with doc_type interpretation",
    )
    bad(
        "interprets-on-withdraw-without-doc-type",
        edit(WITHDRAW, {"/interprets": POLICY_ID}),
        ["/interprets"],
        "no doc_type: interprets is not allowed",
    )
    bad(
        "interprets-uppercase",
        edit(MINIMAL, {"/doc_type": "interpretation", "/interprets": POLICY_ID.upper()}),
        ["/interprets"],
        "a release_id is lower-case hex",
    )
    bad(
        "interprets-31-hex",
        edit(MINIMAL, {"/doc_type": "interpretation", "/interprets": POLICY_ID[:31]}),
        ["/interprets"],
        "a release_id is 32 hex digits",
    )
    bad(
        "interprets-bad-and-not-allowed",
        edit(MINIMAL, {"/interprets": "nope"}),
        ["/interprets"],
        "not allowed and malformed: both at /interprets",
    )

    bad("secrecy-review-empty-object", edit(MINIMAL, {"/secrecy_review": {}}), ["/secrecy_review/reviewer", "/secrecy_review/reviewed_at"], "both members are required")
    bad("secrecy-review-reviewer-missing", edit(MINIMAL, {"/secrecy_review/reviewer": DELETE}), ["/secrecy_review/reviewer"], "reviewer is required")
    bad("secrecy-review-reviewed-at-missing", edit(MINIMAL, {"/secrecy_review/reviewed_at": DELETE}), ["/secrecy_review/reviewed_at"], "reviewed_at is required")
    bad("secrecy-review-reviewer-empty", edit(MINIMAL, {"/secrecy_review/reviewer": ""}), ["/secrecy_review/reviewer"], "1-64 characters")
    bad("secrecy-review-unknown-field", edit(MINIMAL, {"/secrecy_review/approved": True}), ["/secrecy_review/approved"], "nothing else in secrecy_review")
    bad("title-empty", edit(MINIMAL, {"/title": ""}), ["/title"], "at least one character")
    bad("title-empty-on-withdraw", edit(WITHDRAW, {"/title": ""}), ["/title"], "fields on a withdraw are checked too")

    bad("attachments-21", edit(FULL, {"/attachments": [ATTACHMENT] * 21}), ["/attachments"], "at most 20 attachments")
    bad(
        "attachments-21-one-bad",
        edit(FULL, {"/attachments": [ATTACHMENT] * 20 + [dict(ATTACHMENT, sha256="x")]}),
        ["/attachments", "/attachments/20/sha256"],
        "too many, and the 21st is also checked",
    )
    bad("attachment-empty-object", edit(FULL, {"/attachments/0": {}}), [f"/attachments/0/{k}" for k in ATTACHMENT], "all four members are required")
    for member in ATTACHMENT:
        bad(f"attachment-{member}-missing", edit(FULL, {f"/attachments/0/{member}": DELETE}), [f"/attachments/0/{member}"], f"{member} is required")
    bad("attachment-unknown-field", edit(FULL, {"/attachments/0/mime": "application/pdf"}), ["/attachments/0/mime"], "nothing else in an attachment")
    bad(
        "attachment-unknown-field-escaped",
        edit(FULL, {"/attachments/0/a~1b~0c": 1}),
        ["/attachments/0/a~1b~0c"],
        "'/' and '~' in a member name are escaped in the pointer (RFC 6901)",
    )
    bad("attachment-name-empty", edit(FULL, {"/attachments/0/name": ""}), ["/attachments/0/name"], "1-255 characters")
    bad("attachment-sha256-uppercase", edit(FULL, {"/attachments/0/sha256": SHA.upper()}), ["/attachments/0/sha256"], "lower-case hex")
    bad("attachment-sha256-63", edit(FULL, {"/attachments/0/sha256": SHA[:63]}), ["/attachments/0/sha256"], "64 hex digits")
    bad("attachment-url-ftp", edit(FULL, {"/attachments/0/url": "ftp://files.demo.example/a.pdf"}), ["/attachments/0/url"], "http or https only")
    bad("attachment-url-uppercase-scheme", edit(FULL, {"/attachments/0/url": "HTTPS://files.demo.example/a.pdf"}), ["/attachments/0/url"], "the pattern is case-sensitive")
    bad("attachment-url-scheme-only", edit(FULL, {"/attachments/0/url": "https://"}), ["/attachments/0/url"], "something must follow the scheme")
    bad("attachment-url-space", edit(FULL, {"/attachments/0/url": "https://files.demo.example/a b.pdf"}), ["/attachments/0/url"], "no white space")
    bad("attachment-url-trailing-newline", edit(FULL, {"/attachments/0/url": "https://files.demo.example/a.pdf\n"}), ["/attachments/0/url"], "no white space, and ECMA $")
    for name, ch in ECMA_SPACES.items():
        bad(
            f"attachment-url-{name}",
            edit(FULL, {"/attachments/0/url": f"https://files.demo.example/a{ch}b.pdf"}),
            ["/attachments/0/url"],
            f"U+{ord(ch):04X} is white space to ECMA-262's \\S",
        )


# ---------------------------------------------------------------- date-times


def date_time_cases():
    valid = {
        "leap-day": "2024-02-29T09:00:00+08:00",
        "leap-day-400": "2000-02-29T09:00:00+08:00",
        "last-second": "2024-12-31T23:59:59+08:00",
        "fraction": "2025-01-20T09:00:00.123456789+08:00",
        "fraction-one-digit": "2025-01-20T09:00:00.5Z",
        "offset-minus-zero": "2025-01-20T09:00:00-00:00",
        "offset-west-extreme": "2025-01-20T09:00:00-14:59",
        "offset-east-extreme": "2025-01-20T09:00:00+14:00",
        "utc-z": "2025-07-12T01:05:33Z",
        "length-64": "2025-01-20T09:00:00." + "1" * 38 + "+08:00",
        "year-0001": "0001-01-01T00:00:00Z",
    }
    invalid = {
        "not-leap-year": "2023-02-29T09:00:00+08:00",
        "not-leap-century": "1900-02-29T09:00:00+08:00",
        "february-30": "2025-02-30T09:00:00+08:00",
        "april-31": "2025-04-31T09:00:00+08:00",
        "month-13": "2025-13-20T09:00:00+08:00",
        "day-00": "2025-01-00T09:00:00+08:00",
        "hour-24": "2025-01-20T24:00:00+08:00",
        "leap-second": "2016-12-31T23:59:60Z",
        "lowercase-t": "2025-01-20t09:00:00+08:00",
        "lowercase-z": "2025-01-20T09:00:00z",
        "space-separator": "2025-01-20 09:00:00+08:00",
        "missing-seconds": "2025-01-20T09:00+08:00",
        "no-offset": "2025-01-20T09:00:00",
        "date-only": "2025-01-20",
        "offset-without-colon": "2025-01-20T09:00:00+0800",
        "offset-hour-24": "2025-01-20T09:00:00+24:00",
        "offset-hour-15": "2025-01-20T09:00:00+15:00",
        "offset-minus-23": "2025-01-20T09:00:00-23:59",
        "offset-minute-60": "2025-01-20T09:00:00+08:60",
        "empty-fraction": "2025-01-20T09:00:00.+08:00",
        "trailing-newline": "2025-01-20T09:00:00+08:00\n",
        "two-digit-year": "25-01-20T09:00:00+08:00",
        "arabic-indic-digits": "٢٠٢٥-01-20T09:00:00+08:00",
        "length-65": "2025-01-20T09:00:00." + "1" * 39 + "+08:00",
        "year-0000": "0000-01-01T00:00:00Z",
    }
    for name, value in valid.items():
        ok(f"formed-at-{name}", edit(MINIMAL, {"/formed_at": value}), f"formed_at {value!r}")
    for name, value in invalid.items():
        bad(f"formed-at-{name}", edit(MINIMAL, {"/formed_at": value}), ["/formed_at"], f"formed_at {value!r}")
    bad("publish-at-february-30", edit(FULL, {"/publish_at": invalid["february-30"]}), ["/publish_at"], "no such day")
    bad("publish-at-lowercase-t", edit(FULL, {"/publish_at": invalid["lowercase-t"]}), ["/publish_at"], "upper-case T only")
    bad("reviewed-at-february-30", edit(FULL, {"/secrecy_review/reviewed_at": invalid["february-30"]}), ["/secrecy_review/reviewed_at"], "no such day")
    bad("publish-at-length-65", edit(FULL, {"/publish_at": invalid["length-65"]}), ["/publish_at"], "at most 64 characters")
    bad(
        "reviewed-at-length-65",
        edit(FULL, {"/secrecy_review/reviewed_at": invalid["length-65"]}),
        ["/secrecy_review/reviewed_at"],
        "at most 64 characters",
    )
    bad("reviewed-at-no-offset", edit(FULL, {"/secrecy_review/reviewed_at": invalid["no-offset"]}), ["/secrecy_review/reviewed_at"], "an offset is required")


# ---------------------------------------------------------------- unknown members


def unknown_cases():
    bad("unknown-field", edit(MINIMAL, {"/author": "王建国"}), ["/author"], "unknown members are rejected, each at its own name")
    bad("unknown-fields-two", edit(MINIMAL, {"/author": "x", "/tags": []}), ["/author", "/tags"], "each unknown member is reported")
    bad("unknown-field-escaped", edit(MINIMAL, {"/a~1b~0c": 1}), ["/a~1b~0c"], "RFC 6901 escapes in the pointer")
    bad("unknown-field-cjk", edit(MINIMAL, {"/作者": "王建国"}), ["/作者"], "a non-ASCII member name")
    long_key = "k" * 300
    bad("unknown-field-300-chars", edit(MINIMAL, {"/" + long_key: 1}), ["/" + long_key], "the pointer names the whole member, however long")
    long_cjk = "字" * 100
    bad("unknown-field-100-cjk", edit(MINIMAL, {"/" + long_cjk: 1}), ["/" + long_cjk], "300 bytes of UTF-8 in one name")
    odd_cjk = "x" + "字" * 100
    bad(
        "unknown-field-101-chars-cjk",
        edit(MINIMAL, {"/" + odd_cjk: 1}),
        ["/" + odd_cjk],
        "a long name whose UTF-8 does not end on a 3-byte boundary anywhere a buffer might cut it",
    )
    bad("unknown-field-empty-name", edit(MINIMAL, {"/": 1}), ["/"], "the member named \"\" is pointed at by \"/\"")
    bad(
        "secrecy-review-unknown-field-200-chars",
        edit(MINIMAL, {"/secrecy_review/" + "r" * 200: 1}),
        ["/secrecy_review/" + "r" * 200],
        "the whole name inside secrecy_review",
    )
    bad(
        "attachment-unknown-field-100-chars",
        edit(FULL, {"/attachments/0/" + "a" * 100: 1}),
        ["/attachments/0/" + "a" * 100],
        "the whole name inside an attachment",
    )
    deep = b"[" * 1000 + b"]" * 1000
    bad(
        "unknown-field-1000-deep",
        splice(MINIMAL, {"/nested": "@D"}, {"@D": deep}),
        ["/nested"],
        "a 1000-deep array is parsed; its member is unknown",
    )
    bad(
        "unknown-field-3000-deep",
        splice(MINIMAL, {"/nested": "@D"}, {"@D": b"[" * 3000 + b"]" * 3000}),
        [""],
        "beyond jansson's parser depth (2048) the body does not parse",
        python=(False, ["/nested"]),
        because="Python's parser has no depth limit of its own; the member is then unknown",
    )
    bad(
        "docs-example-four-violations",
        edit(
            FULL,
            {
                "/title": "标" * 201,
                "/formed_at": "2025-01-20T09:00:00",
                "/attachments/0/sha256": "not-hex",
                "/author": "王建国",
            },
        ),
        ["/title", "/formed_at", "/attachments/0/sha256", "/author"],
        "every violation is reported (docs/api.md's 400 example)",
    )


# ---------------------------------------------------------------- parsing: JSON and UTF-8


def parse_cases():
    parse = "the producer answers 400 with one detail at \"\""
    bad("not-json-truncated", dumps(MINIMAL)[:-10], [""], f"truncated: {parse}")
    bad("not-json-trailing-garbage", dumps(MINIMAL) + b"}", [""], f"text after the object: {parse}")
    bad("not-json-empty", b"", [""], f"an empty body: {parse}")
    bad("not-json-whitespace", b" \n\t ", [""], f"only white space: {parse}")
    bad("not-json-single-quotes", b"{'source_id': 'x'}", [""], f"single quotes: {parse}")
    bad("not-json-nan", splice(MINIMAL, {"/revision": "@R"}, {"@R": b"NaN"}), [""], f"NaN is not JSON: {parse}")
    bad("not-json-infinity", splice(MINIMAL, {"/revision": "@R"}, {"@R": b"Infinity"}), [""], f"Infinity is not JSON: {parse}")
    bad("not-json-raw-control-char", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a\tb"'}), [""], f"a raw tab inside a string: {parse}")
    bad("utf8-bom", b"\xef\xbb\xbf" + dumps(MINIMAL), [""], f"a byte order mark is not JSON text: {parse}")
    bad("duplicate-key-top", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a", "title": "b"'}), [""], f"a duplicate member: {parse}")
    bad(
        "duplicate-key-nested",
        splice(MINIMAL, {"/secrecy_review/reviewer": "@R"}, {"@R": b'"a", "reviewer": "b"'}),
        [""],
        f"a duplicate member inside secrecy_review: {parse}",
    )
    bad(
        "duplicate-key-escaped",
        splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a", "\\u0074itle": "b"'}),
        [""],
        f"\\u0074itle is title again: {parse}",
    )
    bad(
        "duplicate-key-in-unknown-member",
        splice(MINIMAL, {"/extra": "@X"}, {"@X": b'{"k": 1, "k": 2}'}),
        [""],
        f"a duplicate anywhere, even in an unknown member: {parse}",
    )
    bad("nul-escape-in-title", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a\\u0000b"'}), [""], f"\\u0000 is refused by jansson: {parse}")
    bad("nul-escape-in-key", _nul_key_body(), [""], f"\\u0000 in a member name: {parse}")
    bad("lone-high-surrogate", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"\\ud800"'}), [""], f"a lone surrogate escape: {parse}")
    bad("lone-low-surrogate", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a\\udc00b"'}), [""], f"a lone low surrogate: {parse}")
    bad("reversed-surrogate-pair", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"\\udce2\\ud83d"'}), [""], f"low then high: {parse}")
    bad(
        "lone-surrogate-in-unknown-member",
        splice(MINIMAL, {"/extra": "@X"}, {"@X": b'"\\ud83d"'}),
        [""],
        f"a lone surrogate anywhere: {parse}",
    )
    utf8 = {
        "invalid-byte-ff": b"\xff",
        "continuation-byte-alone": b"\x80",
        "overlong-slash": b"\xc0\xaf",
        "overlong-3-byte": b"\xe0\x80\xaf",
        "encoded-surrogate": b"\xed\xa0\x80",
        "beyond-u10ffff": b"\xf4\x90\x80\x80",
        "truncated-sequence": b"\xe9\xa2",
        "five-byte-form": b"\xf8\x88\x80\x80\x80",
    }
    for name, bytes_ in utf8.items():
        bad(f"utf8-{name}", splice(MINIMAL, {"/title": "@T"}, {"@T": b'"a' + bytes_ + b'b"'}), [""], f"not UTF-8 ({bytes_.hex()}): {parse}")
    latin1 = json.dumps(edit(WITHDRAW, {"/title": "Café"}), ensure_ascii=False).encode("latin-1")
    bad("utf8-latin1-body", latin1, [""], f"a Latin-1 encoded body: {parse}")


def _nul_key_body():
    text = dumps(edit(MINIMAL, {"/@NUL": 1}))
    assert text.count(b'"@NUL"') == 1
    return text.replace(b'"@NUL"', b'"\\u0000"')


def build():
    CASES.clear()
    for group in (valid_cases, length_cases, required_cases, type_cases, value_cases,
                  date_time_cases, unknown_cases, parse_cases):
        group()
    return dict(CASES)


def write(out):
    out.mkdir(parents=True, exist_ok=True)
    cases = build()
    for stale in out.glob("*.json"):
        if stale.name not in cases and stale.name != "EXPECTED.json":
            stale.unlink()
    for name, (body, _) in sorted(cases.items()):
        (out / name).write_bytes(body)
    expected = {name: entry for name, (_, entry) in sorted(cases.items())}
    (out / "EXPECTED.json").write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="directory to write (default: %(default)s)")
    args = parser.parse_args()
    cases = write(args.out)
    print(f"{len(cases)} cases written to {args.out}")


if __name__ == "__main__":
    main()
