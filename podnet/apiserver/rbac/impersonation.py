"""``kubectl --as=jane --as-group=dev``: the ``Impersonate-*`` headers.

``staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go``: the caller
needs the ``impersonate`` verb on each thing asked (``users``, ``groups``,
``serviceaccounts`` in the core group; ``userextras/<key>`` and ``uids`` in
``authentication.k8s.io``), checked in that order, the first refusal answered 403. Then
the request runs as the new user: a service account gets its groups when none were
asked, and every non-anonymous user is in ``system:authenticated``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import unquote

from podnet.apiserver import errors
from podnet.apiserver.auth import ANONYMOUS_NAME, AUTHENTICATED, UNAUTHENTICATED, User
from podnet.apiserver.rbac.authorizer import Decision, forbidden
from podnet.apiserver.rbac.resolver import service_account_groups, split_service_account
from podnet.apiserver.rbac.rules import Attributes

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
AUTHN_GROUP = "authentication.k8s.io"


def wanted(headers: Iterable[tuple[str, str]]) -> bool:
    return any(k.lower().startswith("impersonate-") for k, _ in headers)


def impersonate(
    requestor: User,
    headers: Iterable[tuple[str, str]],
    authorize: Callable[[Attributes], Decision],
) -> User | None:
    """The user the request runs as (None: no impersonation asked); raises the 403
    Status for the first thing ``requestor`` may not impersonate, or a 500 for groups,
    extras or a uid without a user (as upstream's ``InternalError``)."""
    username = ""
    groups: list[str] = []
    uid = ""
    extra: dict[str, list[str]] = {}
    for key, value in headers:
        low = key.lower()
        if low == USER_HEADER:
            username = username or value
        elif low == GROUP_HEADER:
            groups.append(value)
        elif low == UID_HEADER:
            uid = uid or value
        elif low.startswith(EXTRA_PREFIX):
            extra.setdefault(unquote(low[len(EXTRA_PREFIX) :]), []).append(value)
    if not (username or groups or uid or extra):
        return None
    if not username:
        asked = [f"group {g!r}" for g in groups] + [f"extra {k!r}" for k in extra]
        asked += [f"uid {uid!r}"] if uid else []
        raise errors.internal(f"requested [{', '.join(asked)}] without impersonating a user")

    def attrs(resource: str, name: str, **kw: str) -> Attributes:
        return Attributes(requestor, "impersonate", True, resource=resource, name=name, **kw)

    checks: list[Attributes] = []
    sa = split_service_account(username)
    if sa is not None:
        checks.append(attrs("serviceaccounts", sa[1], namespace=sa[0]))
    else:
        checks.append(attrs("users", username))
    checks += [attrs("groups", g) for g in groups]
    for k, values in extra.items():
        checks += [attrs("userextras", v, api_group=AUTHN_GROUP, subresource=k) for v in values]
    if uid:
        checks.append(attrs("uids", uid, api_group=AUTHN_GROUP))
    for check in checks:
        decision = authorize(check)
        if not decision.allowed:
            raise forbidden(check, decision.reason)
    if sa is not None and not groups:
        groups = list(service_account_groups(sa[0]))
    if username != ANONYMOUS_NAME:
        if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return User(
        username,
        tuple(groups),
        uid,
        tuple((k, tuple(v)) for k, v in extra.items()),
    )
