"""Passkeys (WebAuthn): register one from the account page, sign in with it, list, delete."""
