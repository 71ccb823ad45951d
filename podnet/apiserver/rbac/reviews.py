"""The review kinds: answered from the request, never stored.

As ``pkg/registry/authorization/{selfsubjectaccessreview,subjectaccessreview,
localsubjectaccessreview,selfsubjectrulesreview}/rest.go`` and
``pkg/registry/authentication/{selfsubjectreview,tokenreview}/storage.go``: create is
the only verb, the answer is the object with its ``status`` filled (no
resourceVersion), validated as ``pkg/apis/authorization/validation`` does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.auth import Authenticator, User
from podnet.apiserver.rbac.authorizer import Authorizer
from podnet.apiserver.rbac.rules import Attributes

Obj = dict[str, Any]
AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
KINDS = frozenset(
    {
        "SelfSubjectAccessReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SelfSubjectReview",
        "TokenReview",
    }
)
# The audience a service-account token issuer serves by default (kubeadm's
# --service-account-issuer); static tokens are audience-agnostic and report it
# (``authenticator.WrapAudienceAgnosticToken``).
API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)


def is_review(group: str, kind: str) -> bool:
    return group in (AUTHZ, AUTHN) and kind in KINDS


def is_review_plural(group: str, plural: str) -> bool:
    return group in (AUTHZ, AUTHN) and any(k.lower() + "s" == plural for k in KINDS)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_meta(kind: str, group: str, meta: Mapping[str, Any], *, namespaced: bool) -> None:
    """``metadata: must be empty`` (``must be empty except for namespace``)."""
    rest = {
        k: v
        for k, v in meta.items()
        if v not in (None, "", {}, []) and k != "managedFields"
        if not (namespaced and k == "namespace")
    }
    if rest:
        detail = "must be empty except for namespace" if namespaced else "must be empty"
        raise errors.invalid(
            group, kind, "", [("FieldValueInvalid", "metadata", f"Invalid value: {detail}")]
        )


def _spec_attributes(
    kind: str, spec: Mapping[str, Any], *, subject: bool
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    causes: list[tuple[str, str, str]] = []
    if res is not None and non is not None:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.nonResourceAttributes",
                "Invalid value: cannot be specified in combination with resourceAttributes",
            )
        )
    if res is None and non is None:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.resourceAttributes",
                "Invalid value: exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified",
            )
        )
    if subject and not spec.get("user") and not spec.get("groups"):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.user",
                'Invalid value: "": at least one of user or group must be specified',
            )
        )
    if causes:
        raise errors.invalid(AUTHZ, kind, "", causes)
    return (
        res if isinstance(res, Mapping) else None,
        non if isinstance(non, Mapping) else None,
    )


def _attributes(
    user: User, res: Mapping[str, Any] | None, non: Mapping[str, Any] | None
) -> Attributes:
    """``authorizationutil.ResourceAttributesFrom`` / ``NonResourceAttributesFrom``."""
    if res is not None:
        return Attributes(
            user,
            str(res.get("verb", "")),
            True,
            namespace=str(res.get("namespace", "")),
            api_group=str(res.get("group", "")),
            api_version=str(res.get("version", "")),
            resource=str(res.get("resource", "")),
            subresource=str(res.get("subresource", "")),
            name=str(res.get("name", "")),
        )
    assert non is not None
    return Attributes(user, str(non.get("verb", "")), False, path=str(non.get("path", "")))


def _subject_user(spec: Mapping[str, Any]) -> User:
    extra = spec.get("extra") or {}
    return User(
        str(spec.get("user", "")),
        tuple(spec.get("groups") or ()),
        str(spec.get("uid", "")),
        tuple((str(k), tuple(v or ())) for k, v in extra.items()),
    )


def user_info(user: User) -> Obj:
    """authentication.k8s.io/v1 UserInfo (empty fields omitted)."""
    info: Obj = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra}
    return info


class Reviews:
    def __init__(self, authorizer: Authorizer, authenticator: Authenticator) -> None:
        self.authorizer = authorizer
        self.authenticator = authenticator

    def answer(self, kind: str, namespace: str | None, obj: Obj, user: User) -> Obj:
        """The review answered for ``user`` (who asks); blocking (it may read roles)."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if not isinstance(spec, Mapping) or not isinstance(meta, Mapping):
            raise errors.bad_request("spec and metadata must be objects")
        if kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
            return self._access(kind, namespace, obj, meta, spec, user)
        if kind == "SelfSubjectRulesReview":
            return self._rules(obj, spec, user)
        if kind == "SelfSubjectReview":
            return {
                **obj,
                "metadata": {**meta, "creationTimestamp": _now()},
                "status": {"userInfo": user_info(user)},
            }
        return self._token(obj, spec)

    def _access(
        self,
        kind: str,
        namespace: str | None,
        obj: Obj,
        meta: Mapping[str, Any],
        spec: Mapping[str, Any],
        user: User,
    ) -> Obj:
        local = kind == "LocalSubjectAccessReview"
        if local:
            if not namespace:
                raise errors.bad_request("namespace is required on this type: ")
            if meta.get("namespace", namespace) != namespace:
                raise errors.bad_request(
                    f"spec.resourceAttributes.namespace must match namespace: {namespace}"
                )
        _check_meta(kind, AUTHZ, meta, namespaced=local)
        res, non = _spec_attributes(kind, spec, subject=kind != "SelfSubjectAccessReview")
        if local:
            causes: list[tuple[str, str, str]] = []
            if res is not None and str(res.get("namespace", "")) != namespace:
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.resourceAttributes.namespace",
                        f'Invalid value: "{res.get("namespace", "")}": must match '
                        "metadata.namespace",
                    )
                )
            if non is not None:
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.nonResourceAttributes",
                        "Invalid value: disallowed on this kind of request",
                    )
                )
            if causes:
                raise errors.invalid(AUTHZ, kind, "", causes)
        subject = user if kind == "SelfSubjectAccessReview" else _subject_user(spec)
        decision = self.authorizer.authorize(_attributes(subject, res, non))
        status: Obj = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return {**obj, "status": status}

    def _rules(self, obj: Obj, spec: Mapping[str, Any], user: User) -> Obj:
        namespace = str(spec.get("namespace") or "")
        if not namespace:
            raise errors.bad_request("no namespace on request")
        rules, failures = self.authorizer.resolver.rules_for(user, namespace)
        resource_rules: list[Obj] = []
        non_resource_rules: list[Obj] = []
        for rule in rules:
            verbs = list(rule.get("verbs") or ())
            if rule.get("resources"):
                one: Obj = {"verbs": verbs}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if rule.get(key):
                        one[key] = list(rule[key])
                resource_rules.append(one)
            if rule.get("nonResourceURLs"):
                non_resource_rules.append(
                    {"verbs": verbs, "nonResourceURLs": list(rule["nonResourceURLs"])}
                )
        status: Obj = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        if failures:
            status["evaluationError"] = ", ".join(str(f) for f in failures)
        # rest.go answers a new object: the spec is not echoed
        return {
            "kind": obj.get("kind"),
            "apiVersion": obj.get("apiVersion"),
            "metadata": {"creationTimestamp": None},
            "spec": {},
            "status": status,
        }

    def _token(self, obj: Obj, spec: Mapping[str, Any]) -> Obj:
        """``tokenreview/storage.go``: the cluster's token or a ServiceAccount's; the
        audiences asked (the API server's when none) narrowed to the token's, a refused
        token's reason in ``status.error``."""
        token = str(spec.get("token") or "")
        if not token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        asked = tuple(str(a) for a in spec.get("audiences") or ())
        found, audiences, error = self.authenticator.review(token, asked)
        status: Obj = {"user": {}}
        if found is not None:
            status = {
                "authenticated": True,
                "user": user_info(found),
                "audiences": list(audiences or asked or API_AUDIENCES),
            }
        elif error:
            status["error"] = error
        return {**obj, "status": status}
