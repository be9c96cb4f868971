"""The operator's tools behind the ``gatehouse`` command: up, migrate, trace, bench.

Nothing that runs in production (the gateway and the workers) imports them.
"""
