"""Query parameters and option objects, checked as kube-apiserver checks them
(``apimachinery/pkg/apis/meta/v1/validation``: dryRun, resourceVersionMatch; Go's
``strconv`` for numbers and booleans), with the Status errors it gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class LogOptions:
    """A ``pods/log`` request's options (core/v1 PodLogOptions), checked."""

    container: str | None
    follow: bool
    previous: bool
    timestamps: bool
    tail_lines: int | None
    since_seconds: int | None
    since_time: float | None  # epoch seconds
    limit_bytes: int | None


def log_options(query: Mapping[str, str], pod: str) -> LogOptions:
    """The options of ``GET .../pods/NAME/log``, refused as ``LogREST.Get`` refuses them
    (pkg/registry/core/pod/rest/log.go), before the pod is looked up: a parameter that
    does not parse is the parameter codec's 400; values that parse but are out of range
    are ``ValidatePodLogOptions``' 422 (pkg/apis/core/validation/validation.go), kind
    ``PodLogOptions``, named after the pod, one cause per field in its order."""
    opts = LogOptions(
        container=query.get("container") or None,
        follow=bool_param(query, "follow"),
        previous=bool_param(query, "previous"),
        timestamps=bool_param(query, "timestamps"),
        tail_lines=int_param(query, "tailLines"),
        since_seconds=int_param(query, "sinceSeconds"),
        since_time=_since_time(query.get("sinceTime")),
        limit_bytes=int_param(query, "limitBytes"),
    )
    causes: list[tuple[str, str, str]] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        causes.append(
            (
                "FieldValueInvalid",
                "tailLines",
                f"Invalid value: {opts.tail_lines}: must be greater than or equal to 0",
            )
        )
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(
            (
                "FieldValueInvalid",
                "limitBytes",
                f"Invalid value: {opts.limit_bytes}: must be greater than 0",
            )
        )
    if opts.since_seconds is not None and opts.since_time is not None:
        # field.Forbidden(field.NewPath(""), ...): a Path named "" prints as "[]"
        # (apimachinery pkg/util/validation/field/path.go String)
        causes.append(
            (
                "FieldValueForbidden",
                "[]",
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            )
        )
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        causes.append(
            (
                "FieldValueInvalid",
                "sinceSeconds",
                f"Invalid value: {opts.since_seconds}: must be greater than 0",
            )
        )
    if causes:
        raise errors.invalid("", "PodLogOptions", pod, causes)
    return opts


def _since_time(text: str | None) -> float | None:
    """``sinceTime`` as an epoch time: an RFC3339 time (metav1.Time's query format);
    anything else is the 400 the parameter codec answers."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or "T" not in text.upper():
        raise errors.bad_request(f'sinceTime: parsing time "{text}" as RFC3339 failed')
    return when.timestamp()
