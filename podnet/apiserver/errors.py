"""API errors as the API server returns them: a ``Status`` object with a code and reason.

kubectl prints its usual messages from these (``Error from server (NotFound): pods
"x" not found``), so the shapes follow ``k8s.io/apimachinery/pkg/api/errors``
(``NewNotFound``, ``NewAlreadyExists``, ``NewConflict``, ``NewInvalid``, ...) exactly:
reason, code, ``details.{name,group,kind,causes}`` and the message wording.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """One failed request; :meth:`status` is the body the client gets."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group: str, kind: str, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        d["group"] = group
    return d


def _qualified(group: str, plural: str) -> str:
    """``pods`` or ``deployments.apps``, as GroupResource.String() prints it."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(group, plural)} "{name}" not found',
        details=_details(group, plural, name),
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(group, plural)} "{name}" already exists',
        details=_details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    """Optimistic concurrency: ``why`` is e.g. "the object has been modified; please
    apply your changes to the latest version and try again"."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
        details=_details(group, plural, name),
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(group: str, kind: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422: ``causes`` are (reason, field, message), reason as ``FieldValueInvalid``,
    ``FieldValueRequired``, ``FieldValueNotSupported``, ``FieldValueDuplicate``..."""
    details = _details(group, kind, name)
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    text = "; ".join(f"{f}: {m}" if f else m for _, f, m in causes)
    qualified = f"{kind}.{group}" if group else kind
    message = f'{qualified} "{name}" is invalid: ' + (
        text if len(causes) == 1 else f"[{', '.join(f'{f}: {m}' for _, f, m in causes)}]"
    )
    return ApiError(422, "Invalid", message, details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    """410: a watch or list continue from a resourceVersion older than the log keeps."""
    return ApiError(410, "Expired", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> ApiError:
    return ApiError(406, "NotAcceptable", message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def path_not_found(path: str) -> ApiError:
    """An unknown URL: the 404 Status the API server gives (``details`` empty)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
