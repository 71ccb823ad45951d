"""The deprecated-resource warning kube-apiserver sends on every Endpoints request from
v1.33 (KEP-4974; apiserver pkg/endpoints/deprecation WarningMessage's wording)."""

from __future__ import annotations

from podnet.apiserver.resources import RESOURCES, by_kind, deprecation_warning

ENDPOINTS_WARNING = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def test_endpoints_warn_from_1_33() -> None:
    ep = by_kind("", "Endpoints")
    assert ep is not None
    assert deprecation_warning(ep, (1, 33)) == ENDPOINTS_WARNING
    assert deprecation_warning(ep, (1, 37)) == ENDPOINTS_WARNING
    assert deprecation_warning(ep, (2, 0)) == ENDPOINTS_WARNING
    assert deprecation_warning(ep, (1, 32)) is None


def test_no_other_served_kind_warns() -> None:
    warned = [r.kind for r in RESOURCES if deprecation_warning(r, (1, 37)) is not None]
    assert warned == ["Endpoints"]
