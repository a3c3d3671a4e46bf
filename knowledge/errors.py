"""Errors of the knowledge base that a user can act on (knowledge/base.py re-exports them)."""

from __future__ import annotations

from ingest.errors import UserFacingError


class KnowledgeError(UserFacingError):
    """A problem a user can act on; the message is shown as it is."""


class StoreUnavailable(KnowledgeError):
    """The vector store cannot be reached (a Chroma server that is down or does not answer).

    Nothing was changed by the call that failed; the same call succeeds once the store is back.
    """
