"""The gateway: the only public HTTP surface, turning API calls into RPC."""
