"""The provider's pages: log in, second factor, consent, errors, logged out.

Plain HTML built here with every value escaped, styled by the account page's
stylesheet, under the account page's Content-Security-Policy (no script at
all, no inline style). Forms post back to this origin only.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from sanic.response import HTTPResponse

from gateway_app.routes_pages import HTML, PAGE_CSP

SCOPE_TEXT = {
    "openid": "Know who you are (your Gatehouse account id)",
    "profile": "See your username",
    "email": "See your email address and whether it is confirmed",
    "offline_access": "Stay signed in when you are away (a refresh token)",
}


def _csp(sends_to: str | None) -> str:
    """The account page's policy; a page whose form answers with a redirect to
    the app also allows the app's origin (browsers apply form-action to the
    redirects that follow a form post)."""
    if sends_to is None:
        return PAGE_CSP
    parts = urlsplit(sends_to)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    return PAGE_CSP.replace("form-action 'self'", f"form-action 'self' {origin}")


def _page(title: str, body: str, *, status: int = 200, sends_to: str | None = None) -> HTTPResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)} - Gatehouse</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/assets/account.css">
</head>
<body>
  <header><h1>Gatehouse</h1></header>
  <main>
    <section aria-labelledby="page-title">
      <h2 id="page-title">{escape(title)}</h2>
{body}
    </section>
  </main>
</body>
</html>
"""
    headers = {
        "Content-Security-Policy": _csp(sends_to),
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        # Not no-referrer: with it a browser sends "Origin: null" on the form
        # posts, and the login CSRF check needs their real origin. Nothing
        # leaves for other sites (the app gets no Referer from us).
        "Referrer-Policy": "same-origin",
    }
    return HTTPResponse(html.encode(), status=status, content_type=HTML, headers=headers)


def _message(text: str | None) -> str:
    if not text:
        return ""
    return f'      <p id="message" class="message error" role="alert">{escape(text)}</p>\n'


def login_page(
    request_id: str,
    client_name: str,
    sends_to: str,
    *,
    message: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    name = f'<strong id="client-name">{escape(client_name)}</strong>'
    body = f"""{_message(message)}      <p class="hint">Log in to continue to {name}.</p>
      <form id="oauth-login" method="post" action="/oauth/login">
        <input type="hidden" name="request_id" value="{escape(request_id)}">
        <div class="field">
          <label for="login-username">Username or email</label>
          <input id="login-username" name="username" autocomplete="username" required>
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input id="login-password" name="password" type="password"
                 autocomplete="current-password" required>
        </div>
        <button type="submit" id="login-submit">Log in</button>
      </form>"""
    return _page("Log in", body, status=status, sends_to=sends_to)


def second_factor_page(
    request_id: str,
    mfa_token: str,
    client_name: str,
    sends_to: str,
    *,
    message: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    """The login's second step: a code from the authenticator app, or a recovery code.

    The ``mfa_token`` rides in the form (the page is no-store), so a wrong
    code can be followed by the right one without the password again."""
    name = f'<strong id="client-name">{escape(client_name)}</strong>'
    body = f"""{_message(message)}      <p class="hint">Enter a code from your authenticator app
        to continue to {name}, or one of your recovery codes.</p>
      <form id="oauth-mfa" method="post" action="/oauth/login/mfa">
        <input type="hidden" name="request_id" value="{escape(request_id)}">
        <input type="hidden" name="mfa_token" value="{escape(mfa_token)}">
        <div class="field">
          <label for="mfa-code">6-digit code</label>
          <input id="mfa-code" name="code" inputmode="numeric" pattern="[0-9]{{6}}"
                 maxlength="6" autocomplete="one-time-code">
        </div>
        <div class="field">
          <label for="mfa-recovery-code">Or a recovery code</label>
          <input id="mfa-recovery-code" name="recovery_code" autocomplete="off"
                 maxlength="64">
        </div>
        <button type="submit" id="mfa-submit">Continue</button>
      </form>"""
    return _page("Second factor", body, status=status, sends_to=sends_to)


def consent_page(
    request_id: str, client_name: str, scopes: list[str], sends_to: str
) -> HTTPResponse:
    items = "\n".join(
        f'        <li data-scope="{escape(s)}">{escape(SCOPE_TEXT.get(s, s))}</li>' for s in scopes
    )
    name = f'<strong id="client-name">{escape(client_name)}</strong>'
    body = f"""      <p class="hint">{name} asks to:</p>
      <ul id="scopes">
{items}
      </ul>
      <p class="hint">You can withdraw this later from your account page.</p>
      <form id="oauth-consent" method="post" action="/oauth/consent">
        <input type="hidden" name="request_id" value="{escape(request_id)}">
        <button type="submit" name="decision" value="allow" id="consent-allow">Allow</button>
        <button type="submit" name="decision" value="deny" id="consent-deny"
                class="secondary">Deny</button>
      </form>"""
    return _page("Allow access?", body, sends_to=sends_to)


def error_page(text: str, *, status: int = 400) -> HTTPResponse:
    body = f"""      <p id="oauth-error" class="message error" role="alert">{escape(text)}</p>
      <p class="hint">You were not sent back to the app: go back to it and try again.</p>"""
    return _page("Sign-in problem", body, status=status)


def logged_out_page() -> HTTPResponse:
    return _page(
        "Logged out", '      <p id="logged-out" class="hint">You are logged out of Gatehouse.</p>'
    )


def logout_confirm_page() -> HTTPResponse:
    body = """      <p class="hint">Log out of Gatehouse and of the apps you signed in to?</p>
      <form id="oauth-logout" method="post" action="/oauth/logout">
        <button type="submit" id="logout-confirm">Log out</button>
      </form>"""
    return _page("Log out?", body)
