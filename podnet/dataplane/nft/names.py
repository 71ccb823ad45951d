"""Generated nft object names: a short hash for uniqueness plus the readable key.

kube-proxy's nftables proxier names per-Service chains ``service-ULMVA6XW-ns1/svc1/tcp/p80``
(``hashAndTruncate`` in pkg/proxy/nftables/proxier.go): 8 base32 characters of the
key's sha256, then the key itself, cut to the kernel's limit. The hash is upper case
and fixed names are lower case, so a generated name can never equal a fixed one and
:func:`is_generated` finds stale ones.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

# NFT_NAME_MAXLEN is 256 bytes with the NUL; nft 1.0.6 on kernel 6.18 takes a
# 255-character chain or set name and refuses 256 with ERANGE (checked in a netns).
NAME_MAX = 255

_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_GENERATED = re.compile(r"^[a-z]+(?:-[a-z]+)*-[A-Z2-7]{8}(?:-|$)")


def short_hash(key: str) -> str:
    """8 characters of base32(sha256(key)), as kube-proxy's ``hashAndTruncate``."""
    return base64.b32encode(hashlib.sha256(key.encode()).digest())[:8].decode()


@lru_cache(maxsize=1 << 16)  # compilers ask for the same names once per pod
def generated_name(prefix: str, key: str, readable: str = "") -> str:
    """``<prefix>-<HASH>-<readable>``, unique by the hash of ``key``.

    ``prefix`` is lower-case words joined by ``-`` (``aff``, ``pol-in``); ``readable``
    is sanitised to ``[a-z0-9_-]`` (``/`` and ``.`` become ``-``: nft's scanner takes
    more, podnet's rule text and the fake do not need to) and the whole is cut to
    :data:`NAME_MAX`; truncating after the hash keeps it unique.
    """
    assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", prefix), prefix
    name = f"{prefix}-{short_hash(key)}"
    tail = _UNSAFE.sub("-", readable.lower()).strip("-")
    if tail:
        name = f"{name}-{tail}"
    return name[:NAME_MAX]


def is_generated(name: str) -> bool:
    """Was ``name`` made by :func:`generated_name`? (Fixed names have no upper case.)"""
    return _GENERATED.match(name) is not None
