"""docs/api.md covers every endpoint and status of schemas/openapi.yaml.

Each (method, path, status) of the OpenAPI file must be a row of the table
"Status codes by endpoint" in docs/api.md, and the other way round; each
status must have its own section under "Responses"; each stable error code
the OpenAPI schemas define must appear in the prose.
"""
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def openapi():
    return yaml.safe_load((ROOT / "schemas" / "openapi.yaml").read_text(encoding="utf-8"))


def api_md():
    return (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def operations():
    """{(METHOD, path, status)} of the OpenAPI file."""
    ops = set()
    for path, item in openapi()["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                for status in op["responses"]:
                    ops.add((method.upper(), path, str(status)))
    return ops


def documented():
    """{(METHOD, path, status)} of the rows of the status table in docs/api.md."""
    rows = re.findall(r"^\| `([A-Z]+) (/\S*)` \| `(\d{3})` \|", api_md(), re.M)
    return set(rows)


def test_the_openapi_file_has_operations():
    ops = operations()
    assert ("POST", "/v1/releases", "202") in ops
    assert ("POST", "/v1/releases/batch", "200") in ops


def test_every_operation_and_status_is_in_api_md():
    missing = sorted(operations() - documented())
    assert not missing, f"in schemas/openapi.yaml but not in the table of docs/api.md: {missing}"


def test_api_md_lists_nothing_the_openapi_file_lacks():
    extra = sorted(documented() - operations())
    assert not extra, f"in the table of docs/api.md but not in schemas/openapi.yaml: {extra}"


def test_every_status_has_a_section():
    doc = api_md()
    statuses = {status for _, _, status in operations()}
    missing = sorted(s for s in statuses if not re.search(rf"^### {s} ", doc, re.M))
    assert not missing, f"statuses without a '### <status>' section in docs/api.md: {missing}"


def test_every_error_code_is_documented():
    doc = api_md()
    codes = set()
    for schema in openapi()["components"]["schemas"].values():
        const = schema.get("properties", {}).get("error", {}).get("const")
        if const:
            codes.add(const)
    assert "unavailable" in codes
    missing = sorted(c for c in codes if f'"error": "{c}"' not in doc)
    assert not missing, f"error codes of schemas/openapi.yaml not shown in docs/api.md: {missing}"
