"""Settings from the environment and `.env`, built once in main() and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from ingest.connectors.base import Secret
    from knowledge import ModelSettings, SourceTokens


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GREENROOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    data_dir: Path = Path("data")
    # A Chroma server (`chroma run`) for the vectors, e.g. http://127.0.0.1:8000; unset or empty:
    # the store on disk in data_dir/chroma. Every process of one data directory must agree.
    chroma_url: str | None = None
    model: str = "all-MiniLM-L6-v2"
    # Ingest encodes under bf16 autocast (questions stay fp32); off gives plain fp32 vectors.
    embed_bf16: bool = True
    log_level: str = "INFO"
    # "json" writes one JSON object a line (with the guild and interaction of each request).
    log_format: Literal["text", "json"] = "text"
    # Where /healthz and /metrics are served, "HOST:PORT" (or a port alone, on 127.0.0.1);
    # unset or empty: no endpoint.
    metrics_addr: str | None = None
    # Tokens for remote sources; never logged (SecretStr hides them in reprs).
    notion_token: SecretStr | None = None
    google_token: SecretStr | None = None
    max_clip_mb: int = 100
    clip_download_timeout_s: float = 30.0
    # Links to loopback/private addresses are refused so members can't make the bot probe its
    # own network; tests turn this on because the Discord double serves attachments locally.
    clip_allow_private_hosts: bool = False
    # Knowledge sources: watched folders are polled this often (seconds); scheduled sources
    # are checked for being due this often. Web sources members add from Discord may not point
    # at loopback/private addresses unless this is on (tests serve pages locally).
    source_poll_seconds: float = 2.0
    source_tick_seconds: float = 30.0
    source_allow_private_hosts: bool = False
    # Twitch (channel-point cameo requests): the app's id and secret; the broadcaster's tokens
    # live in data_dir/twitch_tokens.json (mode 0600) after `greenroom twitch login`. The URLs
    # are Twitch's (twitchAPI's base URLs and EventSub's connection URL); tests point them at a
    # loopback double.
    twitch_client_id: str | None = None
    twitch_client_secret: SecretStr | None = None
    twitch_auth_url: str = "https://id.twitch.tv/oauth2"
    twitch_api_url: str = "https://api.twitch.tv/helix"
    twitch_eventsub_url: str = "wss://eventsub.wss.twitch.tv/ws"
    # A request nobody decided within this many hours is canceled (the points go back).
    twitch_request_expiry_hours: float = 48.0
    # How often status updates Twitch did not take yet are retried, and expiry is checked.
    twitch_retry_seconds: float = 30.0
    # Written answers (knowledge/written.py): a model behind any OpenAI-compatible
    # chat-completions endpoint (OpenAI, OpenRouter, Ollama, LM Studio, llama.cpp, vLLM).
    # Neither set: no model, answers stay extractive. The key is never logged or shown.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 20.0

    def written_model(self) -> ModelSettings | None:
        """The language model for written answers, or None when none is configured."""
        from ingest.connectors.base import Secret
        from knowledge import ModelSettings

        base_url, model = (self.llm_base_url or "").strip(), (self.llm_model or "").strip()
        if not base_url and not model:
            return None
        if not base_url or not model:
            missing = "GREENROOM_LLM_MODEL" if base_url else "GREENROOM_LLM_BASE_URL"
            raise ValueError(
                f"{missing} is not set: written answers need both GREENROOM_LLM_BASE_URL"
                " (e.g. http://127.0.0.1:11434/v1) and GREENROOM_LLM_MODEL"
            )
        key = self.llm_api_key.get_secret_value().strip() if self.llm_api_key else ""
        return ModelSettings(
            base_url, model, Secret(key) if key else None, timeout_s=self.llm_timeout_seconds
        )

    def source_tokens(self) -> SourceTokens:
        """The remote-source tokens, wrapped so they never show in reprs or logs."""
        from ingest.connectors.base import Secret
        from knowledge import SourceTokens

        def wrap(value: SecretStr | None) -> Secret | None:
            return Secret(value.get_secret_value()) if value and value.get_secret_value() else None

        return SourceTokens(notion=wrap(self.notion_token), google=wrap(self.google_token))

    @property
    def database_path(self) -> Path:
        return self.data_dir / "greenroom.sqlite3"

    @property
    def twitch_tokens_path(self) -> Path:
        return self.data_dir / "twitch_tokens.json"

    @property
    def clips_dir(self) -> Path:
        """Where clip files are stored, addressed by their sha256."""
        return self.data_dir / "clips"
