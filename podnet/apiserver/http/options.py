"""Query parameters and option objects, checked as kube-apiserver checks them
(``apimachinery/pkg/apis/meta/v1/validation``: dryRun, resourceVersionMatch; Go's
``strconv`` for numbers and booleans), with the Status errors it gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.http.routes import parse_bool
from podnet.apiserver.store.base import Obj


def int_param(query: Mapping[str, str], key: str) -> int | None:
    value = query.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(
            f'strconv.ParseInt: parsing "{value}": invalid syntax (parameter {key})'
        ) from None


def bool_param(query: Mapping[str, str], key: str) -> bool:
    return parse_bool(query.get(key, ""))


def dry_run(query: Any, body: Obj | None = None) -> bool:
    """``dryRun=All`` (query, or DeleteOptions.dryRun); anything else is refused with
    the 422 kube-apiserver's option validation gives (``ValidateDryRun``)."""
    values = list(query.getall("dryRun", [])) if hasattr(query, "getall") else []
    if body and isinstance(body.get("dryRun"), list):
        values += [str(v) for v in body["dryRun"]]
    bad = [v for v in values if v != "All"]
    if bad:
        raise errors.invalid(
            "meta.k8s.io",
            "Options",
            "",
            [
                (
                    "FieldValueNotSupported",
                    "dryRun",
                    f'Unsupported value: {bad!r}: supported values: "All"',
                )
            ],
        )
    return bool(values)


def check_rv_match(q: Mapping[str, str]) -> None:
    match = q.get("resourceVersionMatch", "")
    if not match:
        return
    if match not in ("NotOlderThan", "Exact"):
        raise errors.invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            [
                (
                    "FieldValueNotSupported",
                    "resourceVersionMatch",
                    f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""',
                )
            ],
        )
    if not q.get("resourceVersion"):
        raise errors.invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            [
                (
                    "FieldValueForbidden",
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            ],
        )
