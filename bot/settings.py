"""Settings from the environment and `.env`, built once in main() and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GREENROOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    data_dir: Path = Path("data")
    model: str = "all-MiniLM-L6-v2"
    log_level: str = "INFO"
    # Tokens for remote sources; never logged (SecretStr hides them in reprs).
    notion_token: SecretStr | None = None
    google_token: SecretStr | None = None
    max_clip_mb: int = 100

    @property
    def database_path(self) -> Path:
        return self.data_dir / "greenroom.sqlite3"
