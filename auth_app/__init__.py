"""The auth worker: ``auth.login``, ``auth.change_password``, ``auth.check_session``."""
