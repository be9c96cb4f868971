"""Code shared by the gateway and the workers: config, RPC, database, security."""
