"""Accounts, passwords, bearer tokens and balances; and what the account has on the provider:
its registered SSH public keys and its own provider API key."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from typing import Dict, List, Optional, Sequence, Tuple

from ..clock import Clock
from .billing import Billing
from .records import Account, Token
from .store import Store

TOKEN_LIFETIME_S = 45 * 24 * 3600
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_email(email: str) -> bool:
    return bool(EMAIL_RE.match(email or ""))


def _hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000).hex()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Accounts:
    def __init__(self, store: Store, billing: Billing, clock: Clock, start_balance: float):
        self.store = store
        self.billing = billing
        self.clock = clock
        self.start_balance = start_balance
        self._tokens: Dict[str, Tuple[str, float]] = {}

    def ensure(self, email: str, password: str, balance: Optional[float] = None) -> None:
        if self.store.account(email) is None:
            self.create(email, password, self.start_balance if balance is None else balance)

    def create(self, email: str, password: str, start_balance: Optional[float] = None) -> None:
        salt = secrets.token_hex(8)
        self.store.put_account(Account(email=email, password_hash=_hash(password, salt), salt=salt,
                                       start_balance=self.start_balance if start_balance is None else start_balance,
                                       created_at=self.clock.now()))

    def exists(self, email: str) -> bool:
        return self.store.account(email) is not None

    def check_password(self, email: str, password: str) -> bool:
        account = self.store.account(email)
        return account is not None and hmac.compare_digest(account.password_hash, _hash(password, account.salt))

    def issue_token(self, email: str) -> str:
        now = self.clock.now()
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps({"sub": email, "iat": int(now), "exp": int(now + TOKEN_LIFETIME_S),
                                   "jti": secrets.token_hex(8)}).encode())
        token = f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"
        self.store.put_token(Token(token=token, email=email, created_at=now, expires_at=now + TOKEN_LIFETIME_S))
        self._tokens[token] = (email, now + TOKEN_LIFETIME_S)
        return token

    def email_for_token(self, token: Optional[str]) -> Optional[str]:
        if not token:
            return None
        hit = self._tokens.get(token)
        if hit is None:
            known = self.store.token(token)
            if known is None:
                return None
            hit = (known.email, known.expires_at)
            self._tokens[token] = hit
        email, expires = hit
        if expires < self.clock.now() or not self.exists(email):
            return None
        return email

    def email_for_header(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        parts = value.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        return self.email_for_token(parts[1].strip())

    # -- balance ------------------------------------------------------------------------
    def balance(self, email: str) -> float:
        account = self.store.account(email)
        if account is None:
            return 0.0
        return account.start_balance - self.billing.account_spent(email)

    def set(self, email: str, password: Optional[str] = None, balance: Optional[float] = None,
            ssh_keys: Optional[Sequence[str]] = None, provider_key: object = ...) -> bool:
        """Create or update an account; balance sets the *current* balance, ssh_keys replaces
        the registered keys, provider_key (None to remove) sets its provider key. Returns created?"""
        created = not self.exists(email)
        if created:
            self.create(email, password or secrets.token_urlsafe(12),
                        self.start_balance if balance is None else balance)
        if ssh_keys is not None:
            self.store.update_account(email, ssh_keys=list(ssh_keys))
        if provider_key is not ...:
            self.store.update_account(email, provider_key=provider_key)
        if created:
            return True
        if password is not None:
            salt = secrets.token_hex(8)
            self.store.update_account(email, password_hash=_hash(password, salt), salt=salt)
        if balance is not None:
            spent = self.billing.account_spent(email)
            self.store.update_account(email, start_balance=float(balance) + spent)
        return False

    # -- the account on the provider ------------------------------------------------------
    def ssh_keys(self, email: str) -> List[str]:
        account = self.store.account(email)
        return list(account.ssh_keys) if account else []

    def add_ssh_key(self, email: str, key: str) -> List[str]:
        keys = self.ssh_keys(email)
        if key not in keys:
            keys.append(key)
            self.store.update_account(email, ssh_keys=keys)
        return keys

    def provider_key(self, email: str) -> Optional[str]:
        account = self.store.account(email)
        return account.provider_key if account else None

    def email_for_provider_key(self, key: Optional[str]) -> Optional[str]:
        if not key:
            return None
        account = self.store.account_by_provider_key(key)
        return account.email if account else None

    def summary(self) -> Dict[str, Dict[str, float]]:
        """email -> {start_balance, spent, balance}, as /_sandbox/billing shows it."""
        out = {}
        for account in self.store.accounts():
            spent = self.billing.account_spent(account.email)
            out[account.email] = {"start_balance": account.start_balance, "spent": spent,
                                  "balance": account.start_balance - spent}
        return out
