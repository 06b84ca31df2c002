"""Corpus tests for schemas/release.v1.json and schemas/envelope.v1.json.

Every file under <kind>/valid/ must validate; every file under <kind>/invalid/ must
fail, and fail only at the JSON Pointer that <kind>/invalid/EXPECTED.json names for it
(each invalid file breaks exactly one rule). For a missing required member or an
unknown member the pointer names that member (e.g. "/title"), as the ingest API's
400 details do.
"""

import hashlib
import json
import pathlib
import re
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match
from jsonschema._keywords import pattern as _stock_pattern
from referencing import Registry, Resource

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMAS = REPO / "schemas"

RELEASE_ID = "https://zwgk.example/schemas/release.v1.json"
ENVELOPE_ID = "https://zwgk.example/schemas/envelope.v1.json"


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


RELEASE_SCHEMA = _load(SCHEMAS / "release.v1.json")
ENVELOPE_SCHEMA = _load(SCHEMAS / "envelope.v1.json")
REGISTRY = Registry().with_resources(
    [
        (RELEASE_ID, Resource.from_contents(RELEASE_SCHEMA)),
        (ENVELOPE_ID, Resource.from_contents(ENVELOPE_SCHEMA)),
    ]
)
SCHEMA_BY_KIND = {"release": RELEASE_SCHEMA, "envelope": ENVELOPE_SCHEMA}


def validator_for(kind, cls=Draft202012Validator):
    return cls(
        SCHEMA_BY_KIND[kind],
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def corpus(kind, validity):
    files = sorted((HERE / kind / validity).glob("*.json"))
    return [f for f in files if f.name != "EXPECTED.json"]


def expected(kind):
    return _load(HERE / kind / "invalid" / "EXPECTED.json")


from schema_errors import error_pointers, leaf_errors as _leaf_errors, pointer as _pointer  # noqa: E402


def all_pointers(kind, instance):
    errors = list(validator_for(kind).iter_errors(instance))
    return errors, {p for e in _leaf_errors(errors) for p in error_pointers(e)}


def _ids(files):
    return [f"{f.parent.parent.name}/{f.parent.name}/{f.name}" for f in files]


VALID = corpus("release", "valid") + corpus("envelope", "valid")
INVALID = corpus("release", "invalid") + corpus("envelope", "invalid")


# ---------------------------------------------------------------- the schemas


@pytest.mark.parametrize("kind", sorted(SCHEMA_BY_KIND))
def test_schema_is_valid_draft_2020_12(kind):
    schema = SCHEMA_BY_KIND[kind]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_schema_ids():
    assert RELEASE_SCHEMA["$id"] == RELEASE_ID
    assert ENVELOPE_SCHEMA["$id"] == ENVELOPE_ID


def test_envelope_release_reference_resolves_locally():
    resolved = REGISTRY.resolver(base_uri=ENVELOPE_ID).lookup(
        ENVELOPE_SCHEMA["properties"]["release"]["$ref"]
    )
    assert resolved.contents is RELEASE_SCHEMA


def test_corpus_sizes():
    assert len(corpus("release", "valid")) >= 15
    assert len(corpus("release", "invalid")) >= 30
    assert len(corpus("envelope", "valid")) >= 6
    assert len(corpus("envelope", "invalid")) >= 8


# ---------------------------------------------------------------- the corpus


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_file_validates(path):
    kind = path.parent.parent.name
    errors = sorted(validator_for(kind).iter_errors(_load(path)), key=lambda e: e.path)
    assert not errors, "\n".join(f"{_pointer(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_file_fails(path):
    kind = path.parent.parent.name
    assert not validator_for(kind).is_valid(_load(path))


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_file_fails_at_expected_pointer(path):
    kind = path.parent.parent.name
    want = expected(kind).get(path.name)
    assert want is not None, f"{path.name} has no entry in {kind}/invalid/EXPECTED.json"
    errors, pointers = all_pointers(kind, _load(path))
    assert want in pointers, f"expected an error at {want!r}, got {sorted(pointers)}"
    # exactly one rule broken: nothing else in the file is wrong
    assert pointers == {want}, f"errors outside {want!r}: {sorted(pointers - {want})}"
    best = best_match(errors)
    assert want in {p for e in _leaf_errors([best]) for p in error_pointers(e)}


@pytest.mark.parametrize("kind", sorted(SCHEMA_BY_KIND))
def test_expected_has_no_stale_entries(kind):
    names = {p.name for p in corpus(kind, "invalid")}
    assert set(expected(kind)) == names


# ---------------------------------------------------------------- coverage


def _valid_releases():
    for p in corpus("release", "valid"):
        yield _load(p)
    for p in corpus("envelope", "valid"):
        e = _load(p)
        if "release" in e:
            yield e["release"]


@pytest.mark.parametrize("field", ["action", "doc_type", "urgency"])
def test_valid_corpus_covers_every_release_enum_value(field):
    spec = RELEASE_SCHEMA["properties"][field]
    values = spec.get("enum") or RELEASE_SCHEMA["$defs"][field]["enum"]
    seen = {r.get(field) for r in _valid_releases()}
    assert set(values) <= seen, f"no valid release with {field} in {sorted(set(values) - seen)}"


def test_valid_corpus_covers_every_region_code_length():
    seen = {len(r["region_code"]) for r in _valid_releases()}
    assert {6, 9, 12} <= seen


def test_valid_envelopes_cover_every_schema_kind():
    kinds = set(ENVELOPE_SCHEMA["properties"]["schema"]["enum"])
    seen = {_load(p)["schema"] for p in corpus("envelope", "valid")}
    assert kinds == seen


def test_valid_envelopes_cover_every_channel_and_receipt_status():
    envs = [_load(p) for p in corpus("envelope", "valid")]
    names = {n for e in envs for n in e.get("tags", {}).get("channels", [])}
    names |= {e["channel"]["name"] for e in envs if "channel" in e}
    assert names == set(ENVELOPE_SCHEMA["$defs"]["channel_name"]["enum"])
    statuses = {e["receipt"]["status"] for e in envs if "receipt" in e}
    assert statuses == set(ENVELOPE_SCHEMA["properties"]["receipt"]["properties"]["status"]["enum"])


def release_id(department, source_id):
    return hashlib.sha256(f"{department}\n{source_id}".encode("utf-8")).digest()[:16].hex()


@pytest.mark.parametrize(
    "path", corpus("envelope", "valid"), ids=_ids(corpus("envelope", "valid"))
)
def test_valid_envelopes_are_consistent(path):
    """What the schema cannot express but every writer must keep."""
    e = _load(path)
    if "release" not in e:
        return
    r = e["release"]
    assert e["release_id"] == release_id(r["department"], r["source_id"])
    assert (e["revision"], e["action"]) == (r["revision"], r["action"])
    assert e["ingest"]["department"] == r["department"]
    if "receipt" in e:
        assert (e["receipt"]["release_id"], e["receipt"]["revision"]) == (e["release_id"], e["revision"])
    if "interprets" in r:
        assert re.fullmatch("[0-9a-f]{32}", r["interprets"])


def test_docs_release_id_example():
    rid = release_id("demo", "budget-2025-001")
    assert len(rid) == 32
    api = REPO / "docs" / "api.md"
    if not api.exists():
        pytest.skip("docs/api.md not present")
    assert rid in api.read_text(encoding="utf-8")


# ---------------------------------------------------------------- regex dialect


def _ecma_pattern(validator, patrn, instance, schema):
    # JSON Schema patterns are ECMA-262: "$" (without the m flag) is the end of the
    # string. Python's "$" also matches before a final "\n"; "\Z" is ECMA's "$".
    if patrn.endswith("$") and not patrn.endswith("\\$"):
        patrn = patrn[:-1] + r"\Z"
    yield from _stock_pattern(validator, patrn, instance, schema)


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@pytest.mark.parametrize(
    "field, value",
    [
        ("source_id", "budget-2025-001\n"),
        ("department", "demo\n"),
        ("region_code", "370211\n"),
        ("catalog_code", "czyjs-001\n"),
        ("formed_at", "2025-01-20T09:00:00+08:00\n"),
    ],
)
def test_trailing_newline_is_rejected_under_ecma_semantics(field, value):
    release = _load(HERE / "release" / "valid" / "publish-minimal.json")
    assert validator_for("release", EcmaValidator).is_valid(release)
    release[field] = value
    assert not validator_for("release", EcmaValidator).is_valid(release)
