"""Where a login may send the user back to: only a path on this site."""

import pytest

from ocpp_core.management.auth import login_url, safe_return_url


@pytest.mark.parametrize(
    "target",
    ["/", "/Account/Users", "/Home/Transactions/CP1/1?t=2", "/cp/CP%201/1"],
)
def test_local_paths_are_kept(target: str) -> None:
    assert safe_return_url(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "Account/Users",
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\x00x",
        "/x\r\nLocation: https://evil.example",
    ],
)
def test_anything_else_goes_to_the_dashboard(target: str | None) -> None:
    assert safe_return_url(target) == "/"


def test_the_login_url_carries_the_way_back() -> None:
    assert login_url("/") == "/Account/Login"
    assert login_url("/Account/Users?x=1") == "/Account/Login?ReturnUrl=%2FAccount%2FUsers%3Fx%3D1"
    assert login_url("//evil.example") == "/Account/Login"
