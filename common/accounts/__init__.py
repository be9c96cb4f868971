"""Account logic the user and auth workers share: schemas, sessions, audit, credentials."""
