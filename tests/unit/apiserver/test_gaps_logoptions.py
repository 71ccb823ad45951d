"""pods/log options as LogREST.Get checks them (pkg/registry/core/pod/rest/log.go,
pkg/apis/core/validation ValidatePodLogOptions), and fieldValidation's values."""

from __future__ import annotations

import pytest

from podnet.apiserver.errors import ApiError
from podnet.apiserver.http.fields import validation_mode
from podnet.apiserver.http.options import log_options


def _refused(query: dict[str, str]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        log_options(query, "web")
    return caught.value


def test_valid_options_parse() -> None:
    opts = log_options({"tailLines": "0", "sinceSeconds": "1", "limitBytes": "1"}, "web")
    assert (opts.tail_lines, opts.since_seconds, opts.limit_bytes) == (0, 1, 1)
    opts = log_options({"sinceTime": "2020-01-01T00:00:00Z", "follow": "true"}, "web")
    assert opts.since_time == 1577836800.0 and opts.follow and opts.container is None


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"tailLines": "-1"}, "tailLines", "Invalid value: -1: must be greater than or equal to 0"),
        ({"limitBytes": "0"}, "limitBytes", "Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": "0"}, "sinceSeconds", "Invalid value: 0: must be greater than 0"),
        (
            {"sinceSeconds": "0", "sinceTime": "2020-01-01T00:00:00Z"},
            "[]",
            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
    ],
)
def test_out_of_range_is_422(query: dict[str, str], field: str, message: str) -> None:
    err = _refused(query)
    assert (err.code, err.reason) == (422, "Invalid")
    assert str(err.message) == f'PodLogOptions "web" is invalid: {field}: {message}'


def test_unparsable_is_400() -> None:
    assert _refused({"tailLines": "x"}).code == 400
    assert _refused({"sinceTime": "yesterday"}).code == 400


def test_field_validation_values() -> None:
    assert [validation_mode(v) for v in ("", "Strict", "Ignore")] == ["Warn", "Strict", "Ignore"]
    with pytest.raises(ApiError) as caught:
        validation_mode("strict")
    assert caught.value.code == 400
