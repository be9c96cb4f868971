"""Every Redis key Gatehouse uses, in one place, all under the RPC prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def request_queue(self, service: str) -> str:
        """List of requests for a service; callers LPUSH, workers take from the right."""
        return f"{self.prefix}:rpc:{service}"

    def processing(self, service: str, instance: str) -> str:
        """Requests one worker instance has taken and not yet answered."""
        return f"{self.prefix}:rpc:{service}:processing:{instance}"

    def reply_queue(self, instance: str) -> str:
        """Replies for one gateway (or other calling) process."""
        return f"{self.prefix}:reply:{instance}"

    def instances(self, service: str) -> str:
        """Sorted set: instance id -> epoch ms its heartbeat expires."""
        return f"{self.prefix}:instances:{service}"

    def instance_info(self, service: str, instance: str) -> str:
        """JSON description of one instance (host, pid, start time), expiring with it."""
        return f"{self.prefix}:instance:{service}:{instance}"

    @property
    def services(self) -> str:
        """Set of service names that have ever registered an instance."""
        return f"{self.prefix}:services"

    @property
    def events(self) -> str:
        """Pub/sub channel for domain events such as ``user.created``."""
        return f"{self.prefix}:events"

    def session(self, session_id: int) -> str:
        """The owner's user id while a login session is live, ``"0"`` once it has ended."""
        return f"{self.prefix}:session:{session_id}"

    def login_failures(self, scope: str, subject: str) -> str:
        """Sorted set of failed-login times for one account, client IP or (account, IP) pair.

        An account is named by its user id, or by a digest of an unknown name:
        never by the typed name, so no email appears in a key.
        """
        return f"{self.prefix}:login-failures:{scope}:{subject}"

    def login_pending(self, scope: str, subject: str) -> str:
        """Sorted set of the login attempts in flight for the same scope and subject."""
        return f"{self.prefix}:login-pending:{scope}:{subject}"

    def pending_login(self, token_digest: str) -> str:
        """A login waiting for its second factor or an enrolment, by its mfa_token's SHA-256."""
        return f"{self.prefix}:pending-login:{token_digest}"

    def rate_limit(self, route: str, subject: str) -> str:
        """The theoretical arrival time (GCRA) of one client IP's next request to a route."""
        return f"{self.prefix}:rate:{route}:{subject}"

    def webauthn_ceremony(self, digest: str) -> str:
        """The challenge of one passkey options call, by the SHA-256 of its ceremony id;
        taken (GETDEL) by the call that answers it, so it serves exactly once."""
        return f"{self.prefix}:webauthn:ceremony:{digest}"
