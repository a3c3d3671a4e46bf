"""Finding franchise, character and brand names in a prompt, whatever their spelling details.

"Pokémon", "pokemon", "POKEMONS" and "Pokemon's" all match "Pokémon"; "Spider-Man" matches
"spiderman" and "spider man"; "Mario" does not match inside "Marionette".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Well-known franchises, characters and brands that AI video tools reproduce on request, and that
# rights holders enforce. A match is a prompt for a human look, not proof of infringement.
# Words too common to flag on their own (Link, Sonic, Frozen, Halo, Apple) are left out or
# spelled out in full.
DEFAULT_FRANCHISE_TERMS: tuple[str, ...] = (
    # studios and umbrella brands
    "Disney",
    "Pixar",
    "Marvel",
    "DC Comics",
    "Nintendo",
    "Warner Bros",
    "DreamWorks",
    "Studio Ghibli",
    "Lucasfilm",
    # film and TV franchises
    "Star Wars",
    "Darth Vader",
    "Yoda",
    "Harry Potter",
    "Hogwarts",
    "Lord of the Rings",
    "Gandalf",
    "Star Trek",
    "James Bond",
    "Jurassic Park",
    "Transformers",
    "Godzilla",
    "Shrek",
    "Minions",
    "Despicable Me",
    "Toy Story",
    "Buzz Lightyear",
    "Elsa",
    "Olaf",
    "Simpsons",
    "SpongeBob",
    "Game of Thrones",
    "Stranger Things",
    # characters
    "Mickey Mouse",
    "Minnie Mouse",
    "Donald Duck",
    "Winnie the Pooh",
    "Spider-Man",
    "Iron Man",
    "Captain America",
    "Hulk",
    "Thor",
    "Avengers",
    "Deadpool",
    "Batman",
    "Superman",
    "Wonder Woman",
    "Barbie",
    "Hello Kitty",
    "Garfield",
    "Scooby-Doo",
    "Bugs Bunny",
    "Looney Tunes",
    # games
    "Pokémon",
    "Pikachu",
    "Mario",
    "Luigi",
    "Bowser",
    "Zelda",
    "Kirby",
    "Donkey Kong",
    "Sonic the Hedgehog",
    "Master Chief",
    "Elden Ring",
    "Dark Souls",
    "Minecraft",
    "Fortnite",
    "Roblox",
    "League of Legends",
    "Overwatch",
    "World of Warcraft",
    "Call of Duty",
    "Grand Theft Auto",
    "Among Us",
    "Genshin Impact",
    "Five Nights at Freddy's",
    "Street Fighter",
    "Mortal Kombat",
    "Final Fantasy",
    "Resident Evil",
    "Dragon Ball",
    "Naruto",
    "One Piece",
    "Sailor Moon",
    # consumer brands that turn up in generated logos
    "Coca-Cola",
    "Pepsi",
    "McDonald's",
    "Nike",
    "Adidas",
    "Lego",
    "Red Bull",
    "Monster Energy",
)


def normalize_term(text: str) -> str:
    """Lower case, accents removed, every run of non-letters/digits a single space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # apostrophes inside words vanish ("McDonald's" -> "mcdonalds"), other punctuation splits
    stripped = re.sub(r"(?<=\w)['’](?=\w)", "", stripped.casefold())
    return " ".join(re.findall(r"[^\W_]+", stripped))


@dataclass(frozen=True)
class TermMatch:
    term: str  # the term as listed ("Pokémon")
    found: str  # the words as written in the prompt ("pokemons")


def find_terms(text: str, terms: Iterable[str]) -> list[TermMatch]:
    """The listed terms that occur in `text` on word boundaries, in list order, once each."""
    normalized = normalize_term(text)
    matches: list[TermMatch] = []
    seen: set[str] = set()
    for term in terms:
        key = normalize_term(term)
        if not key or key in seen:
            continue
        seen.add(key)
        hit = _pattern(key).search(normalized)
        if hit:
            matches.append(TermMatch(term=term, found=hit.group(0)))
    return matches


@lru_cache(maxsize=4096)
def _pattern(normalized_term: str) -> re.Pattern[str]:
    # Words of a term may be written apart or together ("spider man", "spiderman"); the last
    # word may take a plural or a trailing possessive "s" ("pikachus", "marios").
    words = [re.escape(w) for w in normalized_term.split()]
    words[-1] += r"(?:e?s)?"
    return re.compile(r"(?<![^\W_])" + r" ?".join(words) + r"(?![^\W_])")
