"""JSON Pointers of jsonschema errors, the way zwgk-producer reports violations:
a missing or unknown member is named itself (/title), not its parent object.
Shared by tests/schemas and tests/conformance."""

import re


def pointer(parts):
    """RFC 6901 JSON Pointer of a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def leaf_errors(errors):
    """The innermost errors (those of anyOf/oneOf branches included)."""
    for e in errors:
        if e.context:
            yield from leaf_errors(e.context)
        else:
            yield e


def error_pointers(error):
    """The JSON Pointers an error is about."""
    base = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [pointer(base + [m]) for m in error.validator_value if m not in error.instance]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        props = error.schema.get("properties", {})
        pats = error.schema.get("patternProperties", {})
        extra = [k for k in error.instance if k not in props and not any(re.search(p, k) for p in pats)]
        return [pointer(base + [k]) for k in extra]
    return [pointer(base)]
