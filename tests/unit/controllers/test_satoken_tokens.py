"""The tokens controller (tokens_controller.go) over a real ControllerManager: a token
Secret is filled for its account, one naming a missing account is deleted, an
account's token Secrets go with it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.ctrl_loop import NAMESPACES, found, res, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.apiserver.tokens import jws, keys, legacy
from podnet.apiserver.tokens.issuer import TokenIssuer
from podnet.controllers.manager import ControllerManager

SECRETS = res("", "Secret")
ACCOUNTS = res("", "ServiceAccount")


@contextmanager
def running(tmp: Path) -> Iterator[tuple[Registry, keys.SigningKey]]:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    key = keys.ensure(tmp)
    manager = ControllerManager(registry, nodes=1, ca_pem="CA", token_issuer=TokenIssuer(key))
    manager.start()
    try:
        assert manager.wait_synced(10.0)
        yield registry, key
    finally:
        manager.stop(5.0)
        registry.store.close()


def _secret(name: str, account: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "annotations": {legacy.NAME_ANNOTATION: account}},
        "type": legacy.SECRET_TYPE,
    }


def _token(registry: Registry, name: str) -> str | None:
    s = found(registry, SECRETS, "default", name)
    token = ((s or {}).get("data") or {}).get("token")
    return base64.b64decode(token).decode() if token else None


def test_token_secrets_filled_and_removed(tmp_path: Path) -> None:
    with running(tmp_path) as (reg, key):
        # the account first: a Secret naming a missing one is deleted (syncSecret)
        reg.create(ACCOUNTS, "default", {"metadata": {"name": "robot"}})
        reg.create(SECRETS, "default", _secret("early", "robot"))
        token = wait_for(lambda: _token(reg, "early"), what="token filled")
        assert token is not None
        parsed = jws.parse(token)
        assert parsed is not None and parsed.verified_by(key)
        robot = reg.get(ACCOUNTS, "default", "robot")
        assert (
            parsed.claims["kubernetes.io/serviceaccount/service-account.uid"]
            == (robot["metadata"]["uid"])
        )
        secret = reg.get(SECRETS, "default", "early")
        assert base64.b64decode(secret["data"]["ca.crt"]) == b"CA"
        assert base64.b64decode(secret["data"]["namespace"]) == b"default"
        reg.create(SECRETS, "default", _secret("orphan", "nobody"))
        wait_for(lambda: found(reg, SECRETS, "default", "orphan") is None, what="orphan deleted")
        reg.delete(ACCOUNTS, "default", "robot")
        wait_for(lambda: found(reg, SECRETS, "default", "early") is None, what="goes with account")
