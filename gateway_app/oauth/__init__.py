"""Gatehouse as an OpenID Connect provider: the gateway's half (routes, forms, pages).

Registered only when OIDC_ENABLED=true. The auth worker decides everything
(auth_app/oidc/); these modules read requests the way RFC 6749 says (form
bodies, HTTP Basic client authentication) and answer in its error shape.
"""
