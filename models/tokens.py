"""OAuth tokens as the store keeps them and the Upwork client uses them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, SecretStr


class TokenSet(BaseModel):
    """An access token, the refresh token that renews it, and when the access token expires (UTC)."""

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime
