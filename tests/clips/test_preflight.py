"""Pre-flight checks and the franchise/brand term matching behind them."""

from __future__ import annotations

import pytest

from bot.clips import (
    DEFAULT_FRANCHISE_TERMS,
    Check,
    DuplicateMatch,
    PreflightSettings,
    UseRule,
    VideoInfo,
    find_terms,
    run_preflight,
    worst_status,
)

HD = VideoInfo(
    duration_s=10.0,
    width=1920,
    height=1080,
    aspect_ratio="16:9",
    codec="h264",
    fps=30.0,
    has_audio=True,
)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_clean_clip_passes_everything_but_the_disclosure_reminder() -> None:
    checks = run_preflight(HD, "a neon city at night", use="alert")
    assert [c.name for c in checks] == [
        "duration",
        "resolution",
        "aspect_ratio",
        "audio",
        "copyright",
        "brand",
        "duplicate",
        "ai_disclosure",
    ]
    assert {c.name for c in checks if c.status != "ok"} == {"ai_disclosure"}
    assert "YouTube" in by_name(checks)["ai_disclosure"].detail
    assert worst_status(checks) == "warn"


def test_duration_limits_depend_on_the_use() -> None:
    long_clip = VideoInfo(**{**HD.to_dict(), "duration_s": 20.0})
    alert = by_name(run_preflight(long_clip, "", use="alert"))["duration"]
    assert alert.status == "fail"
    assert alert.detail == "20 s long; alerts can be at most 15 s."
    assert by_name(run_preflight(long_clip, "", use="intro"))["duration"].status == "ok"
    assert by_name(run_preflight(long_clip, "", use="no-such-use"))["duration"].status == "ok"
    assert worst_status(run_preflight(long_clip, "", use="alert")) == "fail"


def test_low_resolution_and_wrong_shape_warn() -> None:
    small = VideoInfo(**{**HD.to_dict(), "width": 640, "height": 360})
    checks = by_name(run_preflight(small, "", use="social"))
    assert checks["resolution"].status == "warn"
    assert "below 720p" in checks["resolution"].detail
    assert checks["aspect_ratio"].status == "warn"
    assert checks["aspect_ratio"].detail == "16:9; social posts are usually 9:16."
    vertical = VideoInfo(**{**HD.to_dict(), "width": 720, "height": 1280, "aspect_ratio": "9:16"})
    checks = by_name(run_preflight(vertical, "", use="social"))
    assert checks["resolution"].status == "ok"  # 720p means the short side
    assert checks["aspect_ratio"].status == "ok"


def test_missing_audio_matters_only_where_sound_is_expected() -> None:
    silent = VideoInfo(**{**HD.to_dict(), "has_audio": False})
    audio = by_name(run_preflight(silent, "", use="alert"))["audio"]
    assert (audio.status, audio.detail) == ("warn", "No audio track; alerts usually have sound.")
    assert by_name(run_preflight(silent, "", use="transition"))["audio"].status == "ok"


def test_franchise_names_in_the_prompt_are_flagged() -> None:
    prompt = "Pikachu and Spiderman fight in a POKÉMON stadium, Marvel style"
    check = by_name(run_preflight(HD, prompt, franchise_terms=DEFAULT_FRANCHISE_TERMS))["copyright"]
    assert check.status == "warn"
    assert check.detail.startswith("copyright: the prompt names ")
    for name in ("Pikachu", "Spider-Man", "Pokémon", "Marvel"):
        assert name in check.detail


def test_sponsor_names_ask_for_a_logo_review() -> None:
    check = by_name(run_preflight(HD, "drinking a RedBull can", brand_terms=["Red Bull"]))["brand"]
    assert (check.status, check.detail) == ("warn", "brand: review logo rendering (Red Bull).")


def test_duplicates() -> None:
    exact = DuplicateMatch(clip_id=12, status="approved", distance=0.0, exact=True)
    check = by_name(run_preflight(HD, "", duplicate=exact))["duplicate"]
    assert (check.status, check.detail) == (
        "fail",
        "This exact file was already submitted as #12 (approved).",
    )
    near = DuplicateMatch(clip_id=7, status="changes_requested", distance=3.2, exact=False)
    check = by_name(run_preflight(HD, "", duplicate=near))["duplicate"]
    assert check.status == "warn"
    assert "#7 (changes requested)" in check.detail


def test_settings_can_change_rules() -> None:
    settings = PreflightSettings(
        use_rules={"alert": UseRule("alert", max_duration_s=5)}, min_short_side=1440
    )
    checks = by_name(run_preflight(HD, "", use="alert", settings=settings))
    assert checks["duration"].status == "fail"
    assert checks["resolution"].status == "warn"
    assert Check.from_dict(checks["duration"].to_dict()) == checks["duration"]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Mickey Mouse dancing", ["Mickey Mouse"]),
        ("mickey-mouse dancing", ["Mickey Mouse"]),
        ("two pikachus and a POKEMON", ["Pokémon", "Pikachu"]),
        ("Mario's kart race", ["Mario"]),
        ("spider man swinging; also spider-man; spiderman", ["Spider-Man"]),
        ("a starwars x-wing", ["Star Wars"]),
        ("the Elden  Ring boss", ["Elden Ring"]),
        ("a Minecraft-style world", ["Minecraft"]),
        ("Fortnite dance", ["Fortnite"]),
        ("Batman on a rooftop, Harry Potter casting", ["Harry Potter", "Batman"]),
        ("a marionette show", []),
        ("a disneyland-ish castle", []),  # word boundary: "disneyland" is another word
        ("sonic boom over the sea", []),  # too common: only "Sonic the Hedgehog" is listed
        ("Ça va, Pokémon?", ["Pokémon"]),
    ],
)
def test_default_term_matching(prompt: str, expected: list[str]) -> None:
    found = [m.term for m in find_terms(prompt, DEFAULT_FRANCHISE_TERMS)]
    assert sorted(found) == sorted(expected)


def test_default_list_covers_the_well_known_names() -> None:
    assert len(DEFAULT_FRANCHISE_TERMS) >= 60
    for name in ("Mickey Mouse", "Pikachu", "Pokémon", "Mario", "Elden Ring", "Marvel",
                 "Spider-Man", "Star Wars", "Disney", "Pixar", "Batman", "Harry Potter",
                 "Minecraft", "Fortnite"):  # fmt: skip
        assert name in DEFAULT_FRANCHISE_TERMS
