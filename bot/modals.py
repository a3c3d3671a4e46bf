"""A modal gets a custom_id of its own each time it is opened.

discord.py keeps one open modal per custom_id: when a second member opens a modal with the same
id (`review:modal:approve:3`), theirs replaces the first member's, and the first submit removes
it, so the other submit is dropped and that member sees "This interaction failed". An id per
opening keeps them apart; the modal's timeout bounds how long an unsubmitted one is kept.
"""

from __future__ import annotations

import secrets


def opening_id(*parts: object) -> str:
    """`review:modal:approve:3:<random>`: readable in logs, never shared by two openings."""
    return ":".join([*(str(part) for part in parts), secrets.token_hex(6)])
