"""The user worker: ``user.register`` and ``user.profile``."""
