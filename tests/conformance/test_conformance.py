"""Conformance of the C validator with the JSON Schema of a release.

Two judges look at every body in cases/:

- the C judge, zw_validate_release (built from zw_validate_release.c), which parses
  and validates exactly as zwgk-producer does: jansson's json_loadb with
  JSON_REJECT_DUPLICATES, then zw_release_validate;
- the Python judge, which parses as strictly as jansson (UTF-8 only, no duplicate
  member, no NaN/Infinity, no "\\u0000", no lone surrogate) and validates against
  schemas/release.v1.json with jsonschema's draft 2020-12 validator, formats
  asserted and patterns read as ECMA-262 (as JSON Schema specifies them).

For every case both must give the verdict cases/EXPECTED.json records: valid or not,
and the same set of JSON Pointers. A body that does not parse is one violation at "".
Where the two differ for a reason of their own (a number jansson cannot hold, its
parser's depth limit, an integer written as 1.0) EXPECTED.json says so under
"differs", and only the cases in DOCUMENTED_DIFFERENCES may.

The cases are written by make_cases.py; test_corpus_is_what_the_generator_writes
keeps the two in step.
"""

import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
from contextlib import contextmanager

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from jsonschema import Draft202012Validator, validators
from jsonschema._keywords import pattern as _stock_pattern

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASES = HERE / "cases"
SCHEMA = json.loads((REPO / "schemas" / "release.v1.json").read_text(encoding="utf-8"))
EXPECTED = json.loads((CASES / "EXPECTED.json").read_text(encoding="utf-8"))
NAMES = sorted(EXPECTED)

# The only cases where the producer and a JSON Schema validator may disagree, and why.
# "literal": JSON Schema calls 1.0 an integer, jansson parses it as a real, so only
# here may one judge accept what the other refuses. "unparsed": a number jansson
# cannot hold, or nesting deeper than its parser goes (2048): both refuse the body,
# the producer at "" and a schema validator at the member. "bytes": the body's
# limit is 256 KiB of UTF-8, which JSON Schema (counting characters) cannot say.
DOCUMENTED_DIFFERENCES = {
    "body-262145-bytes-cjk.json": "bytes",
    "revision-one-point-zero.json": "literal",
    "revision-exponent.json": "literal",
    "attachment-bytes-one-point-zero.json": "literal",
    "revision-beyond-int64.json": "unparsed",
    "revision-real-overflow.json": "unparsed",
    "attachment-bytes-int64-overflow.json": "unparsed",
    "unknown-field-3000-deep.json": "unparsed",
}


def build_dir():
    return pathlib.Path(os.environ.get("ZWGK_BUILD_DIR") or REPO / "build")


# ---------------------------------------------------------------- the Python judge


class NotParsed(ValueError):
    """The body is not what jansson would parse."""


def _no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise NotParsed("duplicate object member")
    return dict(pairs)


def _no_constant(name):
    raise NotParsed(f"{name} is not JSON")


def _refuse_what_jansson_refuses(doc):
    """jansson refuses "\\u0000" and lone surrogates in any string, member names too."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            if "\0" in node:
                raise NotParsed("\\u0000 in a string")
            if any(0xD800 <= ord(c) <= 0xDFFF for c in node):
                raise NotParsed("a lone surrogate in a string")


@contextmanager
def _recursion_limit(limit):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def parse(data):
    """The body as a Python value; raises NotParsed where jansson would not parse it."""
    try:
        text = data.decode("utf-8")
        with _recursion_limit(20000):
            doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise NotParsed(str(e)) from e
    _refuse_what_jansson_refuses(doc)
    return doc


# ECMA-262 WhiteSpace and LineTerminator: what "\s" means in a JSON Schema pattern.
# Python's "\s" differs (it includes U+001C-U+001F and U+0085, and not U+FEFF).
_ECMA_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def ecma_to_python(pattern):
    # "$" without the m flag is the end of the string in ECMA-262; Python's also
    # matches before a final "\n". "\S" is translated to ECMA's set of spaces.
    pattern = re.sub(r"(?<!\\)((?:\\\\)*)\\S", lambda m: m.group(1) + f"[^{_ECMA_SPACE}]", pattern)
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return pattern


def _ecma_pattern(validator, patrn, instance, schema):
    yield from _stock_pattern(validator, ecma_to_python(patrn), instance, schema)


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
VALIDATOR = EcmaValidator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


from schema_errors import error_pointers, leaf_errors as _leaf_errors, pointer as _pointer  # noqa: E402


def python_errors(data):
    """The schema's leaf errors for a body, or None when it does not parse."""
    try:
        doc = parse(data)
    except NotParsed:
        return None
    return list(_leaf_errors(VALIDATOR.iter_errors(doc)))


def python_verdict(data):
    errors = python_errors(data)
    if errors is None:
        return {"valid": False, "paths": [""]}
    paths = {p for e in errors for p in error_pointers(e)}
    return {"valid": not errors, "paths": sorted(paths)}


# ---------------------------------------------------------------- the C judge


@pytest.fixture(scope="module")
def c_verdicts():
    judge = build_dir() / "bin" / "zw_validate_release"
    assert judge.exists(), f"{judge} is missing: cmake -S . -B build -G Ninja && cmake --build build"
    files = [str(CASES / name) for name in NAMES]
    run = subprocess.run([str(judge), *files], capture_output=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    verdicts = {}
    for line in run.stdout.decode("utf-8").splitlines():
        verdict = json.loads(line)
        verdicts[pathlib.Path(verdict.pop("file")).name] = verdict
    assert set(verdicts) == set(NAMES)
    return verdicts


# ---------------------------------------------------------------- the corpus


def _want(entry):
    return {"valid": entry["valid"], "paths": sorted(set(entry["paths"]))}


def _show(verdict):
    return {"valid": verdict["valid"], "paths": sorted(set(verdict["paths"]))}


@pytest.mark.parametrize("name", NAMES)
def test_case(name, c_verdicts):
    entry = EXPECTED[name]
    data = (CASES / name).read_bytes()
    want_c = _want(entry)
    want_python = _want(entry["differs"]["python"]) if "differs" in entry else want_c
    got_c = _show(c_verdicts[name])
    got_python = python_verdict(data)
    assert (got_c, got_python) == (want_c, want_python), (
        f"{name}: {entry['why']}\n"
        f"  C judge:      {got_c}\n  expected:     {want_c}\n"
        f"  Python judge: {got_python}\n  expected:     {want_python}"
    )


def test_only_documented_cases_differ():
    differing = {name for name, entry in EXPECTED.items() if "differs" in entry}
    assert differing == set(DOCUMENTED_DIFFERENCES)
    for name, kind in DOCUMENTED_DIFFERENCES.items():
        entry = EXPECTED[name]
        python = entry["differs"]["python"]
        assert entry["differs"]["because"].strip()
        assert not entry["valid"]
        if kind == "unparsed":
            assert entry["paths"] == [""] and not python["valid"] and "" not in python["paths"]
        else:
            assert python == {"valid": True, "paths": []}


def test_expected_names_every_file():
    files = {p.name for p in CASES.glob("*.json")} - {"EXPECTED.json"}
    assert files == set(EXPECTED)


def test_corpus_size():
    valid = [n for n, e in EXPECTED.items() if e["valid"]]
    invalid = [n for n, e in EXPECTED.items() if not e["valid"]]
    assert len(EXPECTED) >= 80
    assert len(valid) >= 30 and len(invalid) >= 50


def test_corpus_is_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_cases", HERE / "make_cases.py")
    make_cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_cases)
    make_cases.write(tmp_path)
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in CASES.iterdir()}
    assert sorted(written) == sorted(committed)
    stale = sorted(name for name in written if written[name] != committed[name])
    assert not stale, f"run tests/conformance/make_cases.py: {stale}"


# ---------------------------------------------------------------- every rule broken


_ASSERTIONS = {"type", "enum", "const", "pattern", "minLength", "maxLength", "minimum",
               "maximum", "maxItems", "format", "not"}


def _resolve(ref):
    assert ref.startswith("#/"), ref
    node = SCHEMA
    for token in ref[2:].split("/"):
        node = node[token]
    return node


def schema_rules(schema=SCHEMA, path=()):
    """Each assertion of the schema, by the schema path jsonschema reports it at
    ($ref is transparent there); a required member counts as a rule of its own."""
    for key, value in schema.items():
        if key == "$ref":
            yield from schema_rules(_resolve(value), path)
        elif key == "required":
            yield from (path + ("required", m) for m in value)
        elif key == "additionalProperties" and value is False:
            yield path + (key,)
        elif key in _ASSERTIONS:
            yield path + (key,)
        elif key == "properties":
            for name, sub in value.items():
                yield from schema_rules(sub, path + (key, name))
        elif key == "items":
            yield from schema_rules(value, path + (key,))
        elif key == "allOf":
            for i, sub in enumerate(value):
                yield from schema_rules(sub, path + (key, i))
        elif key in ("then", "else"):
            yield from schema_rules(value, path + (key,))
        # "if" holds conditions, not rules; "$defs" is reached through "$ref".


def broken_rules(error):
    path = tuple(error.schema_path)
    if error.validator == "required":
        return {path + (m,) for m in error.validator_value if m not in error.instance}
    return {path}


def test_every_rule_of_the_schema_is_broken_by_some_case():
    rules = set(schema_rules())
    broken = set()
    for name in NAMES:
        errors = python_errors((CASES / name).read_bytes())
        for e in errors or ():
            broken |= broken_rules(e)
    missing = sorted("/".join(map(str, r)) for r in rules - broken)
    assert not missing, f"no case breaks: {missing}"


@pytest.mark.parametrize("pattern, text, matches", [
    ("^a$", "a\n", False),
    ("^\\S+$", "a\ufeffb", False),
    ("^\\S+$", "a\u0085b", True),
    ("^\\\\S$", "\\S", True),
])
def test_ecma_pattern_translation(pattern, text, matches):
    assert bool(re.search(ecma_to_python(pattern), text)) == matches
