"""The name an upload is shown and offered under: whatever a charger sends, a plain file name."""

from __future__ import annotations

import pytest

from ocpp_core.server.uploads import safe_name


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("diagnostics.zip", "diagnostics.zip"),
        ("../../etc/passwd", "passwd"),
        ("C:\\logs\\cp 1.log", "cp_1.log"),
        ('x"; filename="evil.sh', "x_filename_evil.sh"),
        ("..", "upload"),
        ("", "upload"),
        ("a" * 300, "a" * 255),
        ("journal\r\nSet-Cookie: x", "journal_Set-Cookie_x"),
    ],
)
def test_a_sent_name_becomes_a_plain_file_name(sent: str, shown: str) -> None:
    assert safe_name(sent) == shown
