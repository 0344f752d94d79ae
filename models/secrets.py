"""Encryption at rest of stored credentials (Upwork tokens, the awork webhook's header value), keyed by
TIMEBRIDGE_SECRET_KEY, and the table of generated secrets."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import Text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from models.store import UTCDateTime, utcnow


class SecretKeyError(RuntimeError):
    """No usable TIMEBRIDGE_SECRET_KEY: tokens cannot be stored or read."""


class TokenCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the configured secret key."""

    def __init__(self, secret_key: SecretStr) -> None:
        secret = secret_key.get_secret_value()
        if not secret:
            raise SecretKeyError("set TIMEBRIDGE_SECRET_KEY (any long random string) to store secrets encrypted")
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))

    def encrypt(self, value: SecretStr) -> str:
        return self._fernet.encrypt(value.get_secret_value().encode()).decode()

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken as error:
            raise SecretKeyError("stored tokens cannot be decrypted: TIMEBRIDGE_SECRET_KEY changed?") from error


class StoredSecret(SQLModel, table=True):
    """A secret timebridge generated and keeps (e.g. the awork webhook's header value), encrypted."""

    __tablename__ = "stored_secrets"

    name: str = Field(primary_key=True, max_length=80)
    value: str = Field(sa_type=Text)  # encrypted with TIMEBRIDGE_SECRET_KEY
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SecretStore:
    """Reads and writes of `stored_secrets`; values go through the cipher (never stored in plain text)."""

    def __init__(self, engine: Engine, cipher: TokenCipher) -> None:
        self.engine = engine
        self._cipher = cipher

    def get(self, name: str) -> SecretStr | None:
        with Session(self.engine) as session:
            row = session.get(StoredSecret, name)
            return None if row is None else self._cipher.decrypt(row.value)

    def put(self, name: str, value: SecretStr) -> None:
        with Session(self.engine) as session:
            row = session.get(StoredSecret, name) or StoredSecret(name=name, value="")
            row.value, row.updated_at = self._cipher.encrypt(value), utcnow()
            session.add(row)
            session.commit()
