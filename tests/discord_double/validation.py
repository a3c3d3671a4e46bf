"""Discord's documented limits for message and command bodies.

A body that breaks them gets the same 400 ``Invalid Form Body`` (code 50035) Discord would send,
so a bot that would fail in production fails in tests too.
"""

from __future__ import annotations

import re
from typing import Any

from .state import walk_components


class ApiError(Exception):
    """An error answer: ``{"message": ..., "code": ...}`` with an HTTP status."""

    def __init__(
        self, status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: str, code: str, message: str) -> None:
        node = self.errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_len(self, path: str, value: Any, limit: int) -> None:
        if value is not None and len(str(value)) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, "Invalid Form Body", 50035, self.errors)


COMPONENTS_V2 = 1 << 15


def validate_message_body(
    body: dict[str, Any], *, files: int = 0, require_content: bool = True
) -> None:
    """Validate a message create/edit body (the parts discord.py lets through unchecked)."""
    err = FormErrors()
    flags = int(body.get("flags") or 0)
    content = body.get("content")
    err.max_len("content", content, 2000)
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        err.add("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        p = f"embeds.{i}"
        err.max_len(f"{p}.title", embed.get("title"), 256)
        err.max_len(f"{p}.description", embed.get("description"), 4096)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            err.add(f"{p}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, field in enumerate(fields):
            if not str(field.get("name") or "").strip():
                err.add(f"{p}.fields.{j}.name", "BASE_TYPE_REQUIRED", "This field is required")
            if not str(field.get("value") or "").strip():
                err.add(f"{p}.fields.{j}.value", "BASE_TYPE_REQUIRED", "This field is required")
            err.max_len(f"{p}.fields.{j}.name", field.get("name"), 256)
            err.max_len(f"{p}.fields.{j}.value", field.get("value"), 1024)
            total += len(str(field.get("name") or "")) + len(str(field.get("value") or ""))
        err.max_len(f"{p}.footer.text", (embed.get("footer") or {}).get("text"), 2048)
        err.max_len(f"{p}.author.name", (embed.get("author") or {}).get("name"), 256)
        total += len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
        total += len(str((embed.get("footer") or {}).get("text") or ""))
        total += len(str((embed.get("author") or {}).get("name") or ""))
    if total > 6000:
        err.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    components = body.get("components") or []
    _validate_components(err, components, v2=bool(flags & COMPONENTS_V2))
    if flags & COMPONENTS_V2 and (content or embeds):
        err.add(
            "content",
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with MessageFlags.IS_COMPONENTS_V2",
        )
    err.raise_if_any()
    has_body = (
        content or embeds or components or files or body.get("attachments") or body.get("poll")
    )
    if require_content and not has_body and not body.get("sticker_ids"):
        raise ApiError(400, "Cannot send an empty message", 50006)


def _validate_components(err: FormErrors, components: list[dict], *, v2: bool) -> None:
    if not v2 and len(components) > 5:
        err.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for i, row in enumerate(components):
        if not v2:
            if row.get("type") != 1:
                err.add(f"components.{i}.type", "UNION_TYPE_CHOICES", "Top level must be rows")
                continue
            children = row.get("components") or []
            if not children or len(children) > 5:
                err.add(f"components.{i}.components", "BASE_TYPE_BAD_LENGTH", "Must be 1-5")
            if any(c.get("type") != 2 for c in children) and len(children) > 1:
                err.add(
                    f"components.{i}.components",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
    for comp in walk_components(components):
        cid = comp.get("custom_id")
        ctype = comp.get("type")
        if cid is not None:
            err.max_len("components.custom_id", cid, 100)
            if cid in seen:
                err.add(
                    "components.custom_id",
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    f"Component custom id cannot be duplicated: {cid}",
                )
            seen.add(cid)
        if ctype == 2:
            err.max_len("components.label", comp.get("label"), 80)
            style = comp.get("style")
            if style == 5 and not comp.get("url"):
                err.add("components.url", "BASE_TYPE_REQUIRED", "Link buttons need a url")
            if style not in (5, 6) and not cid:
                err.add("components.custom_id", "BASE_TYPE_REQUIRED", "Buttons need a custom_id")
            if not comp.get("label") and not comp.get("emoji") and style != 6:
                err.add("components.label", "BASE_TYPE_REQUIRED", "Buttons need a label or emoji")
        if ctype in (3, 5, 6, 7, 8):
            err.max_len("components.placeholder", comp.get("placeholder"), 150)
            options = comp.get("options") or []
            if ctype == 3 and not 1 <= len(options) <= 25:
                err.add("components.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25")
            for option in options:
                err.max_len("components.options.label", option.get("label"), 100)
                err.max_len("components.options.value", option.get("value"), 100)
                err.max_len("components.options.description", option.get("description"), 100)


_NAME = re.compile(r"^[-_'\w]{1,32}$")


def validate_commands(commands: list[dict[str, Any]]) -> None:
    err = FormErrors()
    seen: set[tuple[str, int]] = set()
    counts = {1: 0, 2: 0, 3: 0}
    for i, cmd in enumerate(commands):
        ctype = int(cmd.get("type", 1))
        name = cmd.get("name") or ""
        counts[ctype] = counts.get(ctype, 0) + 1
        if (name, ctype) in seen:
            err.add(f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name {name}")
        seen.add((name, ctype))
        if ctype == 1:
            _validate_chat_input(err, str(i), cmd)
        elif not 1 <= len(name) <= 32:
            err.add(f"{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    if counts.get(1, 0) > 100:
        err.add("_", "APPLICATION_COMMANDS_TOO_MANY", "Max 100 chat input commands")
    if counts.get(2, 0) > 15 or counts.get(3, 0) > 15:
        err.add("_", "APPLICATION_COMMANDS_TOO_MANY", "Max 15 context menu commands per type")
    err.raise_if_any()


def _validate_chat_input(err: FormErrors, path: str, item: dict[str, Any]) -> None:
    name = item.get("name") or ""
    if not _NAME.match(name) or name != name.lower():
        err.add(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}")
    description = item.get("description") or ""
    if not 1 <= len(description) <= 100:
        err.add(
            f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    options = item.get("options") or []
    if len(options) > 25:
        err.add(f"{path}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    optional_seen = False
    for j, option in enumerate(options):
        p = f"{path}.options.{j}"
        if option.get("type") in (1, 2):
            _validate_chat_input(err, p, option)
            continue
        _validate_chat_input(err, p, {**option, "options": []})
        if option.get("required"):
            if optional_seen:
                err.add(
                    f"{p}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            err.add(f"{p}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for choice in choices:
            err.max_len(f"{p}.choices.name", choice.get("name"), 100)
            if isinstance(choice.get("value"), str):
                err.max_len(f"{p}.choices.value", choice.get("value"), 100)


def validate_modal(data: dict[str, Any]) -> None:
    err = FormErrors()
    if not data.get("custom_id"):
        err.add("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
    err.max_len("data.custom_id", data.get("custom_id"), 100)
    title = data.get("title") or ""
    if not 1 <= len(title) <= 45:
        err.add("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        err.add("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for comp in walk_components(components):
        if comp.get("type") == 4:
            err.max_len("data.components.label", comp.get("label"), 45)
            err.max_len("data.components.placeholder", comp.get("placeholder"), 100)
            if comp.get("value") is not None:
                err.max_len("data.components.value", comp.get("value"), 4000)
        if comp.get("type") == 18:
            err.max_len("data.components.label", comp.get("label"), 45)
    err.raise_if_any()


def validate_choices(choices: list[dict[str, Any]]) -> None:
    err = FormErrors()
    if len(choices) > 25:
        err.add("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, choice in enumerate(choices):
        name = str(choice.get("name") or "")
        if not 1 <= len(name) <= 100:
            err.add(f"data.choices.{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be 1-100 in length.")
        if isinstance(choice.get("value"), str):
            err.max_len(f"data.choices.{i}.value", choice.get("value"), 100)
    err.raise_if_any()
