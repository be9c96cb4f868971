"""Gatehouse as an OpenID Connect provider: the auth worker's half.

The gateway (gateway_app/oauth/) parses requests and renders pages; every
decision (client checks, codes, consent, tokens, liveness) is made here,
where the signing key and PostgreSQL are.
"""
