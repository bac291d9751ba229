"""Check a response against docs/openapi.json: the operation must document
the status, and a JSON body must match the schema of that status's
application/json content.  A small validator of the JSON Schema words the
reference uses ($ref, type with "null", properties, required,
additionalProperties, items, enum, pattern, minimum, maximum, oneOf,
anyOf, allOf), so that the tests need no package beyond the standard
library.  Usage: check_response("/public/verify", "post", response)."""
import json
import os
import re

_SPEC = None


def spec():
    global _SPEC
    if _SPEC is None:
        with open(os.path.join(os.environ.get("SEALD_SOURCE_DIR", os.path.join(
                os.path.dirname(__file__), "..", "..")),
                "docs", "openapi.json")) as f:
            _SPEC = json.load(f)
    return _SPEC


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
          "null": type(None)}


def _is(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[t])


def validate(value, schema, where="$"):
    """Raise AssertionError naming the first place value breaks schema."""
    schema = resolve(schema)
    if not isinstance(schema, dict) or not schema:
        return
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        if schema.get("nullable"):
            types = types + ["null"]
        assert any(_is(value, t) for t in types), \
            f"{where}: {value!r:.80} is not {types}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in enum"
    if isinstance(value, str) and "pattern" in schema:
        assert re.search(schema["pattern"], value), \
            f"{where}: {value!r:.80} does not match {schema['pattern']}"
    if _is(value, "number"):
        if "minimum" in schema:
            assert value >= schema["minimum"], f"{where}: below minimum"
        if "maximum" in schema:
            assert value <= schema["maximum"], f"{where}: above maximum"
    for sub in schema.get("allOf", []):
        validate(value, sub, where)
    for word in ("oneOf", "anyOf"):
        if word in schema:
            errors = []
            for sub in schema[word]:
                try:
                    validate(value, sub, where)
                except AssertionError as e:
                    errors.append(str(e))
            passed = len(schema[word]) - len(errors)
            assert passed >= 1, f"{where}: matches none of {word}: {errors}"
            assert word == "anyOf" or passed == 1, \
                f"{where}: matches {passed} of oneOf"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, f"{where}: required {k!r} missing"
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                validate(v, props[k], f"{where}.{k}")
            elif extra is False:
                raise AssertionError(f"{where}: {k!r} is not in the schema")
            elif isinstance(extra, dict):
                validate(v, extra, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], f"{where}[{i}]")


def check_response(path, method, resp):
    """resp (a requests response) is documented for path/method and its
    JSON body matches the schema of its status."""
    op = spec()["paths"][path][method]
    responses = op["responses"]
    code = str(resp.status_code)
    assert code in responses, f"{method.upper()} {path}: {code} undocumented"
    r = resolve(responses[code])
    content = r.get("content", {})
    ctype = resp.headers.get("Content-Type", "").split(";")[0]
    if ctype == "application/json":
        assert "application/json" in content, \
            f"{method.upper()} {path} {code}: no JSON schema"
        validate(resp.json(), content["application/json"]["schema"])
