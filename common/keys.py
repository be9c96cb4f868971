"""Every Redis key Gatehouse uses, in one place, all under the RPC prefix.

On a Redis Cluster (``cluster=True``) a key's leading prefix becomes a hash
tag, ``{prefix:owner}``: Redis hashes only what is inside the braces, so
every key of one owner (a service's queue, processing lists and registry;
a login throttle's counters) lands in one slot, as the scripts that touch
them together require. ``common/rpc/slots.py`` checks that at start. On a
single Redis the names stay as they always were.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str
    cluster: bool = False

    def _lead(self, owner: str) -> str:
        """What a key starts with: the prefix, or on a cluster the hash tag of its owner."""
        return f"{{{self.prefix}:{owner}}}" if self.cluster else self.prefix

    def request_queue(self, service: str) -> str:
        """List of requests for a service; callers LPUSH, workers take from the right."""
        return f"{self._lead(service)}:rpc:{service}"

    def processing(self, service: str, instance: str) -> str:
        """Requests one worker instance has taken and not yet answered."""
        return f"{self._lead(service)}:rpc:{service}:processing:{instance}"

    def reply_queue(self, instance: str) -> str:
        """Replies for one gateway (or other calling) process."""
        return f"{self._lead(f'reply:{instance}')}:reply:{instance}"

    def instances(self, service: str) -> str:
        """Sorted set: instance id -> epoch ms its heartbeat expires."""
        return f"{self._lead(service)}:instances:{service}"

    def instance_info(self, service: str, instance: str) -> str:
        """JSON description of one instance (host, pid, start time), expiring with it."""
        return f"{self._lead(service)}:instance:{service}:{instance}"

    @property
    def services(self) -> str:
        """Set of service names that have ever registered an instance."""
        return f"{self._lead('services')}:services"

    @property
    def events(self) -> str:
        """Pub/sub channel for domain events such as ``user.created``.

        A channel, not a key: cluster nodes broadcast PUBLISH to each other,
        so it keeps its name (and its subscribers) on a cluster.
        """
        return f"{self.prefix}:events"

    def session(self, session_id: int) -> str:
        """The owner's user id while a login session is live, ``"0"`` once it has ended."""
        return f"{self._lead(f'session:{session_id}')}:session:{session_id}"

    def login_failures(self, scope: str, subject: str) -> str:
        """Sorted set of failed-login times for one account, client IP or (account, IP) pair.

        An account is named by its user id, or by a digest of an unknown name:
        never by the typed name, so no email appears in a key. On a cluster
        every throttle key shares one slot: one attempt's script checks the
        account, the IP and the pair together.
        """
        return f"{self._lead('login')}:login-failures:{scope}:{subject}"

    def login_pending(self, scope: str, subject: str) -> str:
        """Sorted set of the login attempts in flight for the same scope and subject."""
        return f"{self._lead('login')}:login-pending:{scope}:{subject}"

    def pending_login(self, token_digest: str) -> str:
        """A login waiting for its second factor or an enrolment, by its mfa_token's SHA-256."""
        return f"{self.prefix}:pending-login:{token_digest}"

    def rate_limit(self, route: str, subject: str) -> str:
        """The theoretical arrival time (GCRA) of one client IP's next request to a route."""
        return f"{self._lead(f'rate:{route}:{subject}')}:rate:{route}:{subject}"

    def webauthn_ceremony(self, digest: str) -> str:
        """The challenge of one passkey options call, by the SHA-256 of its ceremony id;
        taken (GETDEL) by the call that answers it, so it serves exactly once."""
        return f"{self.prefix}:webauthn:ceremony:{digest}"
