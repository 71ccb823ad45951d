"""What can go wrong talking to a cluster, as types the CLI prints in one line.

Each message says which server and what failed (kubectl's "Unable to connect to the
server: ..."), and a 403 says which permission on what, so the fix is readable from
the message alone (STYLE.md principle 3: callers test the type, never the text).
"""

from __future__ import annotations

from podnet.errors import PodnetError


class KubeError(PodnetError):
    """Any failure of a request to the Kubernetes API."""


class KubeConfigError(KubeError):
    """No usable kubeconfig, context, credential or in-cluster configuration."""


class Unreachable(KubeError):
    """The server did not answer: refused, unresolvable, timed out, or TLS failed."""


class Unauthorized(KubeError):
    """401: the server rejected the credentials."""


class Forbidden(KubeError):
    """403: the credentials lack a permission (RBAC). ``verb``, ``resource``, ``namespace``
    name the missing permission."""

    def __init__(self, message: str, *, verb: str, resource: str, namespace: str | None) -> None:
        super().__init__(message)
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class NotFound(KubeError):
    """404: no such object, or the API group is not served (a CRD not installed)."""


class ApiStatusError(KubeError):
    """Any other non-2xx answer; ``code`` is the HTTP status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
