"""Second factors (the mfa branch owns this package)."""
