"""Check exchanges against docs/openapi.json: the operation must document
the status, and a JSON body must match the schema of that status's
application/json content (check_response); a successful request's path
and query parameters and JSON body must match theirs (check_exchange,
which conftest's Instance.request runs on every exchange of the suite).
Schemas are checked by Debian's python3-jsonschema, Draft 2020-12 (the
dialect of OpenAPI 3.1).  Usage: check_response("/public/verify", "post",
response)."""
import json
import os
import re

import jsonschema

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


def _validator(schema):
    """A Draft 2020-12 validator (the JSON Schema dialect of OpenAPI 3.1)
    for schema, resolving $refs against the whole reference."""
    resolver = jsonschema.RefResolver.from_schema(spec())
    return jsonschema.Draft202012Validator(
        schema, resolver=resolver,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validate(value, schema, where="$"):
    """Raise AssertionError naming the first place value breaks schema."""
    errors = sorted(_validator(schema).iter_errors(value),
                    key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        at = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                             for p in e.absolute_path)
        raise AssertionError(f"{at}: {e.message[:300]}")


def check_document():
    """Every schema in the reference is a valid Draft 2020-12 schema."""
    def walk(node, where):
        if isinstance(node, dict):
            if "schema" in node and isinstance(node["schema"], dict):
                jsonschema.Draft202012Validator.check_schema(node["schema"])
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
    walk(spec()["paths"], "#/paths")
    for name, sch in spec()["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(sch)


def check_response(path, method, resp):
    """resp (a requests response) is documented for path/method and its
    JSON body matches the schema of its status."""
    op = spec()["paths"][path][method]
    responses = op["responses"]
    code = str(resp.status_code)
    # an error status an operation does not list is its "default": the
    # edge can refuse any request (429, 431, 503...) with the one envelope
    if code not in responses and resp.status_code >= 400:
        code = "default"
    assert code in responses, f"{method.upper()} {path}: {code} undocumented"
    r = resolve(responses[code])
    content = r.get("content", {})
    ctype = resp.headers.get("Content-Type", "").split(";")[0]
    if resp.status_code == 304:
        return
    if ctype == "application/json":
        assert "application/json" in content, \
            f"{method.upper()} {path} {code}: no JSON schema"
        validate(resp.json(), content["application/json"]["schema"])


# ---- every response the suite receives (conftest's Instance.request) ----

_TEMPLATES = None


def _templates():
    """[(compiled regex, template, [parameter names])] for every path of
    the reference, literal paths before templated ones so that
    /status/sm3/{sm3} is not taken for /status/{esid}."""
    global _TEMPLATES
    if _TEMPLATES is None:
        rows = []
        for template in spec()["paths"]:
            names = re.findall(r"\{([^}]+)\}", template)
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)",
                              re.escape(template)) + "$"
            rows.append((re.compile(rx), template, names))
        rows.sort(key=lambda r: (len(r[2]), -len(r[1])))
        _TEMPLATES = rows
    return _TEMPLATES


def operation_for(method, path):
    """(template, operation, {name: value}) for a request, or None when the
    reference has no such path or no such method on it."""
    path = path.split("?", 1)[0]
    for rx, template, names in _templates():
        m = rx.match(path)
        if m:
            op = spec()["paths"][template].get(method.lower())
            if op is None:
                return None
            return template, op, dict(zip(names, m.groups()))
    return None


def _param_schema(op, template, name, where):
    for p in op.get("parameters", []) + \
            spec()["paths"][template].get("parameters", []):
        p = resolve(p)
        if p.get("name") == name and p.get("in") == where:
            return p.get("schema", {})
    return None


def _coerce(value, schema):
    """A path or query string as the type its schema says."""
    t = resolve(schema).get("type")
    t = t[0] if isinstance(t, list) else t
    if t == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return value


def check_exchange(method, path, resp, body=None):
    """Check one request and its response against the reference: the
    response as check_response does; for a success, also the path
    parameters' schemas (under their real names), the query parameters
    (each documented) and a JSON request body against the requestBody
    schema.  Paths and methods the reference does not have (a test's
    deliberate unknown route) are not checked.  Raises AssertionError."""
    found = operation_for(method, path)
    if found is None:
        return
    template, op, params = found
    check_response(template, method.lower(), resp)
    if not 200 <= resp.status_code < 300:
        return
    for name, value in params.items():
        schema = _param_schema(op, template, name, "path")
        assert schema is not None, \
            f"{method} {template}: path parameter {name!r} undocumented"
        validate(_coerce(value, schema), schema, f"path.{name}")
    if "?" in path:
        from urllib.parse import parse_qsl
        for name, value in parse_qsl(path.split("?", 1)[1],
                                     keep_blank_values=True):
            schema = _param_schema(op, template, name, "query")
            assert schema is not None, \
                f"{method} {template}: query parameter {name!r} undocumented"
            validate(_coerce(value, schema), schema, f"query.{name}")
    if body is not None:
        rb = resolve(op.get("requestBody", {}))
        content = rb.get("content", {})
        assert "application/json" in content, \
            f"{method} {template}: a JSON body, but no JSON requestBody"
        validate(body, content["application/json"].get("schema", {}),
                 "body")
