"""The pure parts of ServiceAccount tokens: the signing key kept on disk, compact JWS,
claims times, the legacy Secret's fill, and the ServiceAccount admission's mount."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from podnet.apiserver.admission import serviceaccount as adm
from podnet.apiserver.errors import ApiError
from podnet.apiserver.tokens import claims as cl
from podnet.apiserver.tokens import jws, keys, legacy
from podnet.dataplane.volumes import sources

SA: dict[str, Any] = {"metadata": {"name": "robot", "namespace": "ns", "uid": "u-1"}}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> keys.SigningKey:
    return keys.ensure(tmp_path_factory.mktemp("pki"))


def test_key_is_kept_0600_and_reused(tmp_path: Path) -> None:
    first = keys.ensure(tmp_path / "pki")
    assert (tmp_path / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600
    assert keys.ensure(tmp_path / "pki").key_id == first.key_id
    (tmp_path / "pki" / "sa.key").write_text("garbage")  # unusable: replaced
    assert keys.ensure(tmp_path / "pki").key_id != first.key_id


def test_jws_round_trip_and_tampering(key: keys.SigningKey, tmp_path: Path) -> None:
    token = jws.encode({"sub": "x"}, key)
    parsed = jws.parse(token)
    assert parsed is not None and parsed.claims == {"sub": "x"}
    assert parsed.header == {"alg": "RS256", "kid": key.key_id}
    assert parsed.verified_by(key)
    other = keys.ensure(tmp_path / "other")
    assert not parsed.verified_by(other)
    head, _, sig = token.split(".")
    body = base64.urlsafe_b64encode(b'{"sub":"y"}').rstrip(b"=").decode()
    forged = jws.parse(f"{head}.{body}.{sig}")
    assert forged is not None and not forged.verified_by(key)
    assert jws.parse("a.b") is None and jws.parse("!!.??.**") is None


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        (1000, None),
        (1000 - 600 - 59, None),  # within go-jose's minute of leeway
        (1000 - 600 - 61, "service account token has expired"),
        (1000 + 61, "service account token is not valid yet"),
    ],
)
def test_check_times(issued: int, expected: str | None) -> None:
    claims = cl.bound("iss", SA, ["a"], 600, issued)
    if expected is None:
        cl.check_times(claims, 1000)
    else:
        with pytest.raises(cl.InvalidToken, match=expected):
            cl.check_times(claims, 1000)


def test_bound_claims_and_liveness() -> None:
    pod = {"metadata": {"name": "p", "uid": "pu"}}
    claims = cl.bound("iss", SA, ["a"], 600, 10, pod=pod, warn_after=3607)
    assert claims["kubernetes.io"] == {
        "namespace": "ns",
        "serviceaccount": {"name": "robot", "uid": "u-1"},
        "pod": {"name": "p", "uid": "pu"},
        "warnafter": 3617,
    }
    refs = cl.refs(claims)
    assert refs.sa == ("robot", "u-1") and refs.pod == ("p", "pu")
    cl.live("ServiceAccount", SA, refs.sa, 0)
    with pytest.raises(cl.InvalidToken, match=r"service account UID \(u-2\) does not match"):
        cl.live("ServiceAccount", {"metadata": {"uid": "u-2"}}, refs.sa, 0)
    with pytest.raises(cl.InvalidToken, match='serviceaccount "robot" not found'):
        cl.live("ServiceAccount", None, refs.sa, 0)
    with pytest.raises(cl.InvalidToken, match="service account token has been invalidated"):
        cl.live("Pod", None, ("p", "pu"), 0)
    with pytest.raises(cl.InvalidToken, match=r"pod UID \(px\) does not match service account"):
        cl.live("Pod", {"metadata": {"uid": "px"}}, ("p", "pu"), 0)
    deleting = {"metadata": {"uid": "pu", "deletionTimestamp": "1970-01-01T00:01:40Z"}}
    cl.live("Pod", deleting, ("p", "pu"), 100 + 59)  # within the leeway
    with pytest.raises(cl.InvalidToken, match="has been invalidated"):
        cl.live("Pod", deleting, ("p", "pu"), 100 + 61)


def test_legacy_secret_filled_once(key: keys.SigningKey) -> None:
    secret = {
        "metadata": {
            "name": "robot-token",
            "namespace": "ns",
            "annotations": {legacy.NAME_ANNOTATION: "robot"},
        },
        "type": legacy.SECRET_TYPE,
    }
    assert legacy.references(secret, SA)
    out = legacy.filled(secret, SA, lambda c: jws.encode(c, key), "CA")
    assert out is not None
    data = {k: base64.b64decode(v).decode() for k, v in out["data"].items()}
    assert data["namespace"] == "ns" and data["ca.crt"] == "CA"
    parsed = jws.parse(data["token"])
    assert parsed is not None and parsed.claims["iss"] == "kubernetes/serviceaccount"
    assert parsed.claims["kubernetes.io/serviceaccount/secret.name"] == "robot-token"
    assert out["metadata"]["annotations"][legacy.UID_ANNOTATION] == "u-1"
    assert legacy.filled(out, SA, lambda c: "never", "CA") is None
    assert not legacy.references(out, {"metadata": {"name": "robot", "uid": "u-2"}})


def test_mount_token_every_container_once() -> None:
    spec: dict[str, Any] = {
        "initContainers": [{"name": "i"}],
        "containers": [
            {"name": "a"},
            {"name": "b", "volumeMounts": [{"name": "own", "mountPath": adm.MOUNT_PATH}]},
        ],
    }
    adm.mount_token(spec, "abcde")
    (vol,) = spec["volumes"]
    assert vol["name"] == "kube-api-access-abcde" and vol["projected"]["defaultMode"] == 0o644
    mount = {"name": "kube-api-access-abcde", "readOnly": True, "mountPath": adm.MOUNT_PATH}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "own", "mountPath": adm.MOUNT_PATH}]
    spec["containers"].append({"name": "c"})
    adm.mount_token(spec, "zzzzz")  # an existing kube-api-access-* volume is reused
    assert len(spec["volumes"]) == 1 and spec["containers"][2]["volumeMounts"] == [mount]


@pytest.mark.parametrize(
    ("pod", "sa", "expected"),
    [(None, None, True), (False, True, False), (True, False, True), (None, False, False)],
)
def test_should_automount(pod: bool | None, sa: bool | None, expected: bool) -> None:
    spec = {} if pod is None else {"automountServiceAccountToken": pod}
    account = {} if sa is None else {"automountServiceAccountToken": sa}
    assert adm.should_automount(account, spec) is expected


def test_token_secret_must_name_its_account() -> None:
    adm.validate_secret({"metadata": {"name": "s"}, "type": "Opaque"})
    with pytest.raises(ApiError) as e:
        adm.validate_secret({"metadata": {"name": "s"}, "type": legacy.SECRET_TYPE})
    assert e.value.code == 422
    assert e.value.message == (
        'Secret "s" is invalid: metadata.annotations[kubernetes.io/service-account.name]: '
        "Required value"
    )


def test_projected_token_source_written_by_the_kubelet() -> None:
    volume = {"name": "v", "projected": adm.token_volume_source()}
    pod: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}
    root_ca = {"data": {"ca.crt": "CA"}}
    asked: list[tuple[str, int]] = []

    def token(p: dict[str, Any], audience: str, seconds: int) -> str:
        asked.append((audience, seconds))
        return "TOKEN"

    files = sources.payload(volume, pod, lambda kind, name: root_ca, token)
    assert {k: (f.data, f.mode) for k, f in files.items()} == {
        "token": (b"TOKEN", 0o644),
        "ca.crt": (b"CA", 0o644),
        "namespace": (b"ns", 0o644),
    }
    assert asked == [("", 3607)]
    assert "token" not in sources.payload(volume, pod, lambda kind, name: root_ca)
