"""Offline OpenAPI validation with the schemas shipped in ``kubernetes-validate``.

``kubernetes_validate.validate()`` re-reads the 1.8 MB definitions file and builds a
jsonschema validator on every call. We build one Draft 2020-12 validator per kind, the
same way it does (same files, same registry), and reuse it; in front of it sits a
compiled yes/no check (:mod:`podnet.manifests.fastschema`), so jsonschema only runs to
explain an invalid document (per-Pod costs: bench/README.md, "podnet analyze"). The
strict schemas reject unknown fields, so a typo such as ``contaners`` is reported, as
``kubectl apply --validate=strict`` does. We use the newest Kubernetes version the
package ships schemas for.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from podnet.manifests.fastschema import Check, Compiler, Unsupported
from podnet.manifests.lines import Path

if TYPE_CHECKING:  # jsonschema is slow to import: only invalid input needs it
    import jsonschema  # type: ignore[import-untyped, unused-ignore]
    from referencing import Registry


@functools.cache
def _package_dir() -> FsPath:
    """kubernetes-validate's data directory, found without importing the package.

    Importing ``kubernetes_validate`` imports jsonschema (slow to import), which only an
    invalid document needs; its schemas are plain JSON files
    ``kubernetes-json-schema/v<version>-local-strict/<kind>-<group>-<version>.json``.
    """
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("kubernetes-validate is not installed")
    return FsPath(next(iter(spec.submodule_search_locations)))


@functools.cache
def kubernetes_version() -> str:
    """The newest Kubernetes version whose schemas kubernetes-validate ships."""
    versions = [
        d.name[1 : -len("-local-strict")]
        for d in (_package_dir() / "kubernetes-json-schema").glob("v*-local-strict")
    ]
    return max(versions, key=lambda v: tuple(int(x) for x in v.split(".") if x.isdigit()))


def _schema_dir() -> FsPath:
    return _package_dir() / "kubernetes-json-schema" / f"v{kubernetes_version()}-local-strict"


@functools.cache
def _definitions() -> dict[str, Any]:
    defs: dict[str, Any] = json.loads((_schema_dir() / "_definitions.json").read_text())
    return defs


@functools.cache
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    return Resource.from_contents(_definitions()) @ Registry()


@functools.cache
def _schema_files() -> dict[str, FsPath]:
    """File name -> path of every schema file shipped, listed once.

    Kinds are looked up in this table and never joined into a path: ``kind`` is user
    input, and a 300-character kind (ENAMETOOLONG), a kind naming a directory or a
    ``../`` kind must mean "no schema", not a traceback or a file outside this directory.
    """
    return {p.name: p for p in _schema_dir().iterdir() if p.name.endswith(".json")}


def _schema_file(kind: str, api_version: str) -> str | None:
    """The schema file for ``kind`` in ``api_version``, if kubernetes-validate ships one."""
    # kubernetes-validate's file naming: networking.k8s.io/v1 -> networking-v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"{kind.lower()}-{group_version}.json"
    return name if name in _schema_files() else None


def _schema(kind: str, api_version: str) -> dict[str, Any] | None:
    file = _schema_file(kind, api_version)
    return None if file is None else _schema_of(file)


def _fast(kind: str, api_version: str) -> Check | None:
    file = _schema_file(kind, api_version)
    return None if file is None else _fast_of(file)


def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    file = _schema_file(kind, api_version)
    return None if file is None else _validator_of(file)


# Cached by file name, not by (kind, apiVersion): the caches stay as small as the table.
@functools.cache
def _schema_of(file: str) -> dict[str, Any] | None:
    try:
        schema: dict[str, Any] = json.loads(_schema_files()[file].read_text())
    except (OSError, ValueError):
        return None
    return schema


@functools.cache
def _fast_of(file: str) -> Check | None:
    schema = _schema_of(file)
    if schema is None:
        return None
    try:
        return Compiler(_definitions()["$defs"]).compile(schema)
    except Unsupported:
        return None


@functools.cache
def _validator_of(file: str) -> jsonschema.protocols.Validator | None:
    schema = _schema_of(file)
    if schema is None:
        return None
    import jsonschema
    from referencing import Resource

    registry = Resource.from_contents(schema) @ _registry()
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        schema, registry=registry
    )
    return validator


@functools.cache
def part_check(kind: str, api_version: str, part: str) -> Check | None:
    """The compiled yes/no check of one top-level field of ``kind`` (``status``,
    ``metadata``): a status write checks only what it changes. None: no schema, or
    one the compiler does not handle."""
    schema = _schema(kind, api_version)
    sub = (schema or {}).get("properties", {}).get(part)
    if not isinstance(sub, dict):
        return None
    try:
        return Compiler(_definitions()["$defs"]).compile(sub)
    except Unsupported:
        return None


def has_schema(kind: str, api_version: str) -> bool:
    return _schema(kind, api_version) is not None


def schema_errors(doc: dict[str, Any]) -> list[tuple[Path, str]]:
    """(field path, message) for every schema violation, deepest-first per branch."""
    file = _schema_file(str(doc.get("kind")), str(doc.get("apiVersion")))
    if file is None:
        return []
    fast = _fast_of(file)
    if fast is not None and fast(doc):
        return []
    validator = _validator_of(file)
    if validator is None:
        return []
    out: list[tuple[Path, str]] = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path))):
        import jsonschema

        best = jsonschema.exceptions.best_match([err]) if err.context else err
        path: Path = tuple(best.absolute_path)
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            known = best.schema.get("properties", {})
            for key in best.instance:
                if key not in known:  # like kubectl --validate=strict: point at the field
                    out.append(((*path, key), f'unknown field "{key}"'))
            continue
        if best.validator == "required" and isinstance(best.instance, dict):
            # one error per missing key, each carrying the whole list: each key once
            for key in best.validator_value:
                if key not in best.instance:
                    out.append(((*path, key), "Required value"))
            continue
        out.append((path, _message(best)))
    return list(dict.fromkeys(out))


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "oneOf" and isinstance(err.instance, (bool, float, list, dict)):
        return f"{err.instance!r} is not an integer or string"
    return f"{err.message} (OpenAPI schema, Kubernetes {kubernetes_version()})"
