#!/usr/bin/python3
"""k8s_validate.py - offline schema validation of Kubernetes manifests.

Every object in the given YAML files (or '-' for stdin) is checked against
the Kubernetes API's OpenAPI (swagger 2.0) definitions, as `kubectl apply
--validate=strict` would: unknown fields are rejected (every object schema
with properties gets additionalProperties: false), types, enums of the spec,
required fields. Custom resources are checked against the openAPIV3Schema of
a CustomResourceDefinition found among the inputs. An object whose kind is
neither served by the definitions nor defined by an input CRD is an error.

Errors name the file, the line, the object and the field:
  deploy/x.yaml:42: DaemonSet kube-system/sluice: spec.template.spec.hostNetwrk: unknown field

Usage: k8s_validate.py --openapi swagger.json FILE... ; exit 1 on any error.
"""
import argparse
import copy
import json
import sys

import jsonschema
import yaml

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def strict(schema):
    """Reject unknown fields wherever a schema lists its fields."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema and \
                not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        for k, v in schema.items():
            if k in ("properties", "definitions", "patternProperties"):
                for sub in v.values():
                    strict(sub)
            elif k in ("items", "additionalProperties", "not"):
                strict(v)
            elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
                for sub in v:
                    strict(sub)
    return schema


def crd_schema(schema):
    """A CRD's structural schema as JSON schema (int-or-string, preserve)."""
    if isinstance(schema, dict):
        if schema.get("x-kubernetes-int-or-string"):
            schema = dict(schema)
            schema.pop("type", None)
            schema["anyOf"] = schema.get("anyOf", []) + [{"type": "integer"}, {"type": "string"}]
        for k in ("properties", "patternProperties"):
            for name, sub in list(schema.get(k, {}).items()):
                schema[k][name] = crd_schema(sub)
        for k in ("items", "additionalProperties", "not"):
            if isinstance(schema.get(k), dict):
                schema[k] = crd_schema(schema[k])
        for k in ("allOf", "anyOf", "oneOf"):
            if isinstance(schema.get(k), list):
                schema[k] = [crd_schema(s) for s in schema[k]]
    return schema


class Doc:
    """One YAML document: its data and the line of every field path."""

    def __init__(self, path, node):
        self.path = path
        self.lines = {}
        self.data = self._build(node, ())
        self.line = node.start_mark.line + 1

    def _build(self, node, p):
        self.lines[p] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out = {}
            for k, v in node.value:
                key = k.value
                self.lines[p + (key,)] = k.start_mark.line + 1
                out[key] = self._build(v, p + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(v, p + (i,)) for i, v in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def line_of(self, p):
        p = tuple(p)
        while p not in self.lines and p:
            p = p[:-1]
        return self.lines.get(p, self.line)


def load_docs(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if node is None:
            continue
        d = Doc("<stdin>" if path == "-" else path, node)
        if d.data is not None:
            yield d


def gvk_of(obj):
    av = obj.get("apiVersion", "")
    group, _, version = av.rpartition("/")
    return group, version, obj.get("kind", "")


def fmt_path(p):
    out = ""
    for x in p:
        out += f"[{x}]" if isinstance(x, int) else (("." if out else "") + str(x))
    return out or "(object)"


def message(err):
    if err.validator == "additionalProperties" and err.validator_value is False:
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return list(err.absolute_path) + [extra[0] if extra else "?"], "unknown field"
    if err.validator == "required":
        return list(err.absolute_path), err.message.replace("is a required property", "is required")
    if err.validator == "type":
        return list(err.absolute_path), f"wrong type: {err.instance!r} is not of type {err.validator_value}"
    return list(err.absolute_path), err.message


def leaf_errors(err):
    """Best-matching leaf errors of an anyOf/oneOf failure, or the error."""
    if err.context:
        best = jsonschema.exceptions.best_match(err.context)
        return [best] if best is not None else [err]
    return [err]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--openapi", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    spec = json.load(open(args.openapi))
    defs = spec["definitions"]
    defs[INT_OR_STRING] = {"type": ["string", "integer"]}
    defs[QUANTITY] = {"type": ["string", "number"]}
    for d in defs.values():
        strict(d)
    by_gvk = {}
    for name, d in defs.items():
        for g in d.get("x-kubernetes-group-version-kind", []):
            by_gvk[(g.get("group", ""), g["version"], g["kind"])] = name

    docs = []
    for f in args.files:
        try:
            docs.extend(load_docs(f))
        except (OSError, yaml.YAMLError) as e:
            print(f"{f}: {e}", file=sys.stderr)
            return 1

    # custom resources defined by CRDs among the inputs
    crds = {}
    for d in docs:
        o = d.data
        if isinstance(o, dict) and o.get("kind") == "CustomResourceDefinition":
            spec_ = o.get("spec", {})
            for v in spec_.get("versions", []) or []:
                s = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
                key = (spec_.get("group", ""), v.get("name"), (spec_.get("names") or {}).get("kind"))
                crds[key] = strict(crd_schema(copy.deepcopy(s)))

    root = {"definitions": defs}
    resolver = jsonschema.RefResolver.from_schema(root)
    nerr = 0
    counts = {}
    for d in docs:
        o = d.data
        if not isinstance(o, dict):
            print(f"{d.path}:{d.line}: not an object", file=sys.stderr)
            nerr += 1
            continue
        gvk = gvk_of(o)
        meta = o.get("metadata") or {}
        ident = f"{gvk[2] or '?'} {meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta.get('name', '?')}"
        if gvk in by_gvk:
            schema = {"$ref": "#/definitions/" + by_gvk[gvk]}
            v = jsonschema.Draft4Validator(schema, resolver=resolver)
        elif gvk in crds:
            v = jsonschema.Draft7Validator(crds[gvk])
            # apiVersion, kind and metadata are the API server's
            o = {k: x for k, x in o.items() if k not in ("apiVersion", "kind", "metadata")}
            v.schema = dict(v.schema)
            v.schema.setdefault("properties", {})
            for k in ("apiVersion", "kind", "metadata"):
                v.schema["properties"].pop(k, None)
        else:
            print(f"{d.path}:{d.line}: {ident}: unknown apiVersion/kind "
                  f"{o.get('apiVersion')!r}/{o.get('kind')!r}", file=sys.stderr)
            nerr += 1
            continue
        found = False
        for err in sorted(v.iter_errors(o), key=lambda e: list(map(str, e.absolute_path))):
            for leaf in leaf_errors(err):
                p, msg = message(leaf)
                print(f"{d.path}:{d.line_of(p)}: {ident}: {fmt_path(p)}: {msg}", file=sys.stderr)
                nerr += 1
                found = True
        if not meta.get("name"):
            print(f"{d.path}:{d.line}: {ident}: metadata.name is required", file=sys.stderr)
            nerr += 1
            found = True
        if not found:
            counts[gvk[2]] = counts.get(gvk[2], 0) + 1
    total = sum(counts.values())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"k8s_validate: {total} valid object(s) ({kinds}), {nerr} error(s)")
    return 1 if nerr else 0


if __name__ == "__main__":
    sys.exit(main())
