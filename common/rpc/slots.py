"""The start-up check that every script and multi-key command stays in one slot.

A Redis Cluster runs a script only when all the keys it declares hash to one
slot (CRC16 of the key, or of its ``{hash tag}``, modulo 16384); otherwise it
answers CROSSSLOT, at the first call, under load. This module lists the keys
each call declares, for sample owners built the way the code builds them
(``common/keys.py`` for the names, ``common/rpc/slotted.py`` for how the RPC
scripts are split), and refuses a layout that would cross slots before the
process opens anything.
"""

from __future__ import annotations

from redis.crc import key_slot

from common.config.env import ConfigError
from common.config.rpc import RpcSettings
from common.keys import Keys
from common.rpc import slotted

# Sample owners: every service and instance name is built by the same format,
# so if these share slots where they must, any do.
_SERVICES = ("user", "auth")
_INSTANCE = "user-host-1234-a1b2c3"
_GATEWAYS = ("gateway-host-1-aaaaaa", "gateway-host-2-bbbbbb")
_SESSIONS = (1, 987654321)


def slot(key: str) -> int:
    """The cluster hash slot of ``key``, as CLUSTER KEYSLOT computes it."""
    return key_slot(key.encode())


def declared_keys(keys: Keys) -> dict[str, list[list[str]]]:
    """For each script or multi-key command, the keys of each call it makes."""
    calls: dict[str, list[list[str]]] = {}
    for service in _SERVICES:
        queue = keys.request_queue(service)
        processing = keys.processing(service, _INSTANCE)
        replies = [keys.reply_queue(gateway) for gateway in _GATEWAYS]
        guards = [(str(session), keys.session(session)) for session in _SESSIONS]
        calls.setdefault("PUSH_GUARDED", []).extend(
            slotted.push_key_groups(queue, guards, cluster=keys.cluster)
        )
        calls.setdefault("TAKE_BATCH", []).append([queue, processing])
        calls.setdefault("BLMOVE", []).append([queue, processing])
        calls.setdefault("REPLY_AND_ACKNOWLEDGE", []).extend(
            slotted.reply_key_groups(processing, replies, cluster=keys.cluster)
        )
        calls.setdefault("RECOVER_INSTANCE", []).append(
            [
                keys.instances(service),
                processing,
                queue,
                keys.instance_info(service, _INSTANCE),
            ]
        )
    # auth_app/throttle.py: one attempt's scopes (account, IP, pair) in one script.
    throttle = [
        key
        for scope, subject in (("account", "42"), ("ip", "192.0.2.0"), ("pair", "42@192.0.2.0"))
        for key in (keys.login_failures(scope, subject), keys.login_pending(scope, subject))
    ]
    calls["BEGIN_ATTEMPT"] = [throttle]
    calls["RECORD_FAILURE"] = [throttle]
    calls["GCRA"] = [[keys.rate_limit("login", "192.0.2.0")]]
    return calls


def crossings(keys: Keys) -> list[str]:
    """One line per call whose keys hash to more than one slot; empty when none do."""
    found = []
    for script, groups in declared_keys(keys).items():
        for group in groups:
            slots = {key: slot(key) for key in group}
            if len(set(slots.values())) > 1:
                named = ", ".join(f"{key} (slot {number})" for key, number in slots.items())
                found.append(f"{script} would touch {named}")
    return found


def check_layout(keys: Keys) -> None:
    """Raise ConfigError naming each call that would cross slots."""
    found = crossings(keys)
    if found:
        raise ConfigError(
            "the Redis key layout crosses cluster slots (a hash tag is missing or broken, "
            "e.g. by braces in RPC_PREFIX): " + "; ".join(found)
        )


def keys_for(rpc: RpcSettings) -> Keys:
    """The process's key names; on a cluster, checked to keep every call in one slot."""
    keys = Keys(rpc.rpc_prefix, cluster=rpc.redis_cluster)
    if keys.cluster:
        check_layout(keys)
    return keys
