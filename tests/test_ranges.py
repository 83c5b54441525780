"""Range.parse: the one way text (a flag, a CSV cell, an environment variable) becomes a number."""

from __future__ import annotations

import pytest

from mobilenets.ranges import POSITIVE, Range, count


@pytest.mark.parametrize(
    ("allowed", "text", "value"),
    [(POSITIVE, "2.5", 2.5), (count(1, 8), "8", 8), (Range(-90, 90), "-90", -90.0)],
)
def test_allowed_text_is_its_number(allowed, text, value) -> None:
    parsed = allowed.parse("x", text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("allowed", "text", "message"),
    [
        (POSITIVE, "0", "TIMEOUT must be a number > 0; got '0'"),
        (POSITIVE, "inf", "TIMEOUT must be a number > 0; got 'inf'"),
        (POSITIVE, "fast", "TIMEOUT must be a number > 0; got 'fast'"),
        (count(1, 8), "2.0", "TIMEOUT must be a whole number in [1, 8]; got '2.0'"),
        (Range(-90, 90), "nan", "TIMEOUT must be a number in [-90, 90]; got 'nan'"),
    ],
)
def test_other_text_is_refused_naming_the_range(allowed, text, message) -> None:
    with pytest.raises(ValueError) as refused:
        allowed.parse("TIMEOUT", text)
    assert str(refused.value) == message


def test_without_a_name_the_message_starts_at_must() -> None:
    with pytest.raises(ValueError, match=r"^must be a number > 0; got '-1'$"):
        POSITIVE.parse("", "-1")


def test_a_download_setting_from_the_environment_is_parsed_the_same_way(
    monkeypatch, tmp_path
) -> None:
    from mobilenets.download import download

    monkeypatch.setenv("MOBILENETS_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(
        ValueError, match=r"^MOBILENETS_DOWNLOAD_TIMEOUT must be a number > 0; got 'soon'$"
    ):
        download("http://127.0.0.1:9/x.pt", tmp_path / "cache" / "x.pt")
    assert list(tmp_path.iterdir()) == []  # refused before any connection or folder
