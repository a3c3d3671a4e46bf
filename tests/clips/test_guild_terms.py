"""Per-guild edits of the franchise list and the sponsor/brand terms."""

from __future__ import annotations

import pytest

from bot.clips import DEFAULT_FRANCHISE_TERMS, GuildTermStore, InvalidTerm
from tests.clips.conftest import GUILD, MOD_A, OTHER_GUILD


async def test_guild_starts_with_the_default_list(terms: GuildTermStore) -> None:
    assert await terms.franchise_terms(GUILD) == list(DEFAULT_FRANCHISE_TERMS)
    assert await terms.brand_terms(GUILD) == []


async def test_additions_and_removals_are_per_guild(terms: GuildTermStore) -> None:
    await terms.add_franchise_term(GUILD, "  Hollow   Knight ", MOD_A)
    await terms.remove_franchise_term(GUILD, "mario", MOD_A)  # any spelling of a default
    guild_terms = await terms.franchise_terms(GUILD)
    assert "Hollow Knight" in guild_terms
    assert "Mario" not in guild_terms
    assert "Mario" in await terms.franchise_terms(OTHER_GUILD)
    overrides = await terms.franchise_overrides(GUILD)
    assert (overrides.added, overrides.removed) == (["Hollow Knight"], ["Mario"])

    await terms.add_franchise_term(GUILD, "MARIO", MOD_A)  # switches the default back on
    await terms.remove_franchise_term(GUILD, "hollow knight", MOD_A)
    assert await terms.franchise_terms(GUILD) == list(DEFAULT_FRANCHISE_TERMS)
    overrides = await terms.franchise_overrides(GUILD)
    assert (overrides.added, overrides.removed) == ([], [])


async def test_brand_terms(terms: GuildTermStore) -> None:
    await terms.add_brand_term(GUILD, "Red Bull", MOD_A)
    await terms.add_brand_term(GUILD, "red-bull", MOD_A)  # same term: kept once
    await terms.add_brand_term(GUILD, "NordVPN", MOD_A)
    assert await terms.brand_terms(GUILD) == ["red-bull", "NordVPN"]
    assert await terms.brand_terms(OTHER_GUILD) == []
    assert await terms.remove_brand_term(GUILD, "RED BULL")
    assert not await terms.remove_brand_term(GUILD, "RED BULL")
    assert await terms.brand_terms(GUILD) == ["NordVPN"]


@pytest.mark.parametrize("term", ["", "  ", "!!!", "x" * 101])
async def test_empty_or_huge_terms_are_refused(terms: GuildTermStore, term: str) -> None:
    with pytest.raises(InvalidTerm, match="at least one letter"):
        await terms.add_brand_term(GUILD, term, MOD_A)
