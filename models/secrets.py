"""Encryption at rest of stored credentials (Upwork tokens), keyed by TIMEBRIDGE_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr


class SecretKeyError(RuntimeError):
    """No usable TIMEBRIDGE_SECRET_KEY: tokens cannot be stored or read."""


class TokenCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the configured secret key."""

    def __init__(self, secret_key: SecretStr) -> None:
        secret = secret_key.get_secret_value()
        if not secret:
            raise SecretKeyError("set TIMEBRIDGE_SECRET_KEY (any long random string) to store Upwork tokens encrypted")
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))

    def encrypt(self, value: SecretStr) -> str:
        return self._fernet.encrypt(value.get_secret_value().encode()).decode()

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken as error:
            raise SecretKeyError("stored Upwork tokens cannot be decrypted: TIMEBRIDGE_SECRET_KEY changed?") from error
