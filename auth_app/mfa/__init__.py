"""Second factors: TOTP with recovery codes, the logins waiting for them, enrolment."""
