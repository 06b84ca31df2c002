"""schemas/openapi.yaml: a valid OpenAPI 3.1 document of the ingest API (CONTRACT §2).

The document is validated with openapi-spec-validator, its relative reference to
release.v1.json resolved from the file's own location. Then what a validator of the
format cannot know: the endpoints and statuses are the contract's, the request
bodies are release.v1 itself, 429 and 503 carry Retry-After, and every example in
the document is valid against the schema it illustrates.
"""

import json
import pathlib

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE.parent.parent / "schemas"
OPENAPI = SCHEMAS / "openapi.yaml"
RELEASE = SCHEMAS / "release.v1.json"

SPEC = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
RELEASE_SCHEMA = json.loads(RELEASE.read_text(encoding="utf-8"))
BASE = OPENAPI.as_uri()

REGISTRY = Registry().with_resources(
    [
        (BASE, Resource.from_contents(SPEC, default_specification=DRAFT202012)),
        (RELEASE.as_uri(), Resource.from_contents(RELEASE_SCHEMA)),
        (RELEASE_SCHEMA["$id"], Resource.from_contents(RELEASE_SCHEMA)),
    ]
)

CONTRACT = {
    "/v1/releases": {"202", "400", "401", "403", "413", "415", "429", "503"},
    "/v1/releases/batch": {"200", "400", "401", "413", "415", "429", "503"},
}


def test_is_valid_openapi_3_1():
    spec, base_uri = read_from_filename(str(OPENAPI))
    assert spec["openapi"].startswith("3.1.")
    validate(spec, base_uri=base_uri, cls=OpenAPIV31SpecValidator)


def test_release_reference_resolves_to_release_v1():
    ref = SPEC["paths"]["/v1/releases"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert REGISTRY.resolver(base_uri=BASE).lookup(ref).contents == RELEASE_SCHEMA
    items = SPEC["components"]["schemas"]["Batch"]["items"]["$ref"]
    assert REGISTRY.resolver(base_uri=BASE).lookup(items).contents == RELEASE_SCHEMA


def test_relative_references_name_existing_files():
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref" and not v.startswith("#"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SPEC)
    assert refs, "the request bodies reference release.v1.json"
    for ref in refs:
        assert (OPENAPI.parent / ref).resolve() == RELEASE, ref


def _schema_objects():
    """Every Schema Object of the document: components and media types."""
    found = [(f"components/{n}", s) for n, s in SPEC["components"]["schemas"].items()]
    for path, operations in SPEC["paths"].items():
        operation = operations["post"]
        holders = [("request", operation["requestBody"])] + list(operation["responses"].items())
        for where, holder in holders:
            for media in holder.get("content", {}).values():
                found.append((f"{path} {where}", media["schema"]))
    for name, response in SPEC["components"]["responses"].items():
        found += [(f"responses/{name}", m["schema"]) for m in response["content"].values()]
    return found


@pytest.mark.parametrize("schema", [s for _, s in _schema_objects()], ids=[n for n, _ in _schema_objects()])
def test_schema_object_is_valid_2020_12(schema):
    # openapi-spec-validator checks the document's structure, not what a Schema
    # Object says; in 3.1 that is JSON Schema draft 2020-12 (jsonSchemaDialect).
    assert SPEC["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_paths_and_statuses_are_the_contracts():
    assert set(SPEC["paths"]) == set(CONTRACT)
    for path, statuses in CONTRACT.items():
        operations = SPEC["paths"][path]
        assert set(operations) == {"post"}
        assert set(operations["post"]["responses"]) == statuses, path


def test_bearer_auth_everywhere():
    scheme = SPEC["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert SPEC["security"] == [{"bearerAuth": []}]
    for operations in SPEC["paths"].values():
        assert "security" not in operations["post"], "no operation may opt out"


def _resolve(node):
    while "$ref" in node:
        node = REGISTRY.resolver(base_uri=BASE).lookup(node["$ref"]).contents
    return node


@pytest.mark.parametrize("status", ["429", "503"])
def test_retry_after_on(status):
    for path in CONTRACT:
        response = _resolve(SPEC["paths"][path]["post"]["responses"][status])
        header = _resolve(response["headers"]["Retry-After"])
        assert header["required"] is True and header["schema"]["type"] == "integer"


def test_batch_is_1_to_500_releases():
    batch = SPEC["components"]["schemas"]["Batch"]
    assert (batch["type"], batch["minItems"], batch["maxItems"]) == ("array", 1, 500)


def _validator(schema):
    return Draft202012Validator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _escape(token):
    return token.replace("~", "~0").replace("/", "~1")


def _follow(pointer, node):
    """The node a local $ref leads to, and its JSON Pointer in the document."""
    while "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        pointer = node["$ref"][1:]
        node = _resolve(node)
    return pointer, node


def _examples():
    """(id, JSON Pointer of the schema, example value) for every example of a media type."""
    found = []
    for path, operations in SPEC["paths"].items():
        at = f"/paths/{_escape(path)}/post"
        operation = operations["post"]
        media = [("request", f"{at}/requestBody", operation["requestBody"])]
        for status, response in operation["responses"].items():
            media.append((status, *_follow(f"{at}/responses/{status}", response)))
        for where, pointer, holder in media:
            content = holder["content"]["application/json"]
            examples = {"example": {"value": content["example"]}} if "example" in content else {}
            examples.update(content.get("examples", {}))
            for name, example in examples.items():
                schema = f"{pointer}/content/application~1json/schema"
                found.append((f"{path} {where} {name}", schema, _resolve(example)["value"]))
    return found


EXAMPLES = _examples()


def test_every_response_has_an_example():
    described = {e[0].rsplit(" ", 1)[0] for e in EXAMPLES}
    for path, statuses in CONTRACT.items():
        for status in statuses:
            assert f"{path} {status}" in described


@pytest.mark.parametrize("schema, value", [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_example_is_valid(schema, value):
    # Referenced where it stands, so that its own references ('#/components/...',
    # './release.v1.json') resolve as they do in the document.
    errors = list(_validator({"$ref": f"{BASE}#{schema}"}).iter_errors(value))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize(
    "schema, value",
    [
        ("Accepted", {"release_id": "F1EF95DE212FB18D82E47E636667C12E", "revision": 1, "status": "accepted"}),
        ("InvalidRelease", {"error": "invalid_release", "details": []}),
        ("InvalidRelease", {"error": "forbidden", "details": [{"path": "", "message": "x"}]}),
        ("BatchResult", {"index": 0, "status": "accepted"}),
        ("BatchResult", {"index": 1, "status": "invalid_release"}),
        ("BatchResult", {"index": 500, "status": "unavailable"}),
        ("BatchResult", {"index": 0, "status": "queued"}),
        ("Violation", {"path": "title", "message": "x"}),
        ("Batch", []),
    ],
)
def test_schema_refuses(schema, value):
    assert not _validator({"$ref": f"{BASE}#/components/schemas/{schema}"}).is_valid(value)
