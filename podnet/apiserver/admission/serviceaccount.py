"""The ServiceAccount admission plugin's pod mutation
(plugin/pkg/admission/serviceaccount/admission.go ``Admit``, on create).

``serviceAccountName`` defaults to ``default``; the account must exist (403 ``error
looking up service account <ns>/<name>``), except the ``default`` one, which the
serviceaccount controller makes moments after its namespace (upstream retries the
lookup for about a second; podnet's registry also runs without controllers, in tests
and one-shot clusters, so the mutation goes ahead without waiting). Unless
``automountServiceAccountToken`` is false on the pod or else on the account, every
init and regular container without a mount at /var/run/secrets/kubernetes.io/
serviceaccount gets one of a projected volume ``kube-api-access-<5 chars>``
(``TokenVolumeSource``): a 3607 s ``serviceAccountToken`` at ``token``, the
``kube-root-ca.crt`` ConfigMap's ``ca.crt`` and the namespace from the downward API.
The account's ``imagePullSecrets`` are copied when the pod has none. Mirror pods are
left alone.
"""

from __future__ import annotations

import random
from typing import Any

from podnet.apiserver import errors
from podnet.apiserver.errors import ApiError
from podnet.apiserver.resources import Resource, by_kind

Obj = dict[str, Any]
DEFAULT = "default"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ROOT_CA = "kube-root-ca.crt"
TOKEN_EXPIRATION = 3607  # serviceaccount.WarnOnlyBoundTokenExpirationSeconds
# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names (no vowels)
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.SystemRandom()
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
TOKEN_SECRET_ANNOTATION = "kubernetes.io/service-account.name"


def token_volume_source() -> Obj:
    """``TokenVolumeSource``: defaultMode 0644 set explicitly (#104464)."""
    return {
        "defaultMode": 0o644,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
            {"configMap": {"name": ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
    }


def _forbidden(pod: Obj, message: str) -> ApiError:
    name = (pod.get("metadata") or {}).get("name") or ""
    return ApiError(
        403,
        "Forbidden",
        f'pods "{name}" is forbidden: {message}',
        details={"name": name, "kind": "pods"},
    )


def should_automount(sa: Obj | None, spec: Obj) -> bool:
    """The pod's setting, else the account's, else true (``shouldAutomount``)."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if sa is not None and sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def mount_token(spec: Obj, suffix: str) -> None:
    """``mountServiceAccountToken``: reuse a ``kube-api-access-*`` volume if the pod
    has one, mount it in every container lacking the path, add it if one did."""
    volumes = spec.get("volumes") or []
    name = next(
        (str(v.get("name")) for v in volumes if str(v.get("name", "")).startswith(VOLUME_PREFIX)),
        "",
    )
    has_volume = bool(name)
    name = name or VOLUME_PREFIX + suffix
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}]
            needed = True
    if needed and not has_volume:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


def validate_secret(secret: Obj) -> None:
    """A token Secret must name its account (pkg/apis/core/validation ValidateSecret,
    ``SecretTypeServiceAccountToken``): 422 otherwise."""
    if secret.get("type") != TOKEN_SECRET_TYPE:
        return
    meta = secret.get("metadata") or {}
    if not (meta.get("annotations") or {}).get(TOKEN_SECRET_ANNOTATION):
        field = f"metadata.annotations[{TOKEN_SECRET_ANNOTATION}]"
        raise errors.invalid(
            "",
            "Secret",
            str(meta.get("name") or ""),
            [("FieldValueRequired", field, "Required value")],
        )


def admit_pod(registry: Any, res: Resource, pod: Obj, old: Obj | None) -> None:
    if old is not None:  # the mutation is on create only
        return
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = DEFAULT
    sa_name = str(spec["serviceAccountName"])
    namespace = str(meta.get("namespace") or "")
    accounts = by_kind("", "ServiceAccount")
    assert accounts is not None
    try:
        sa: Obj | None = registry.get(accounts, namespace, sa_name)
    except ApiError as e:
        if e.code != 404:
            raise
        if sa_name != DEFAULT:
            raise _forbidden(
                pod,
                f"error looking up service account {namespace}/{sa_name}: "
                f'serviceaccount "{sa_name}" not found',
            ) from None
        sa = None
    if should_automount(sa, spec):
        mount_token(spec, "".join(_rng.choice(_ALPHANUMS) for _ in range(5)))
    if not spec.get("imagePullSecrets") and sa is not None and sa.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [
            {"name": s.get("name")} for s in sa["imagePullSecrets"] if isinstance(s, dict)
        ]
