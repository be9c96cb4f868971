-- Exactly-once effects for non-idempotent RPC methods (common/db/idempotency.py).

-- name: ping$
SELECT 1;

-- name: claim_message$
-- Blocks while another transaction holds the same id, so two deliveries of
-- one request can never both run.
INSERT INTO rpc_completed (message_id, method)
VALUES (:message_id, :method)
ON CONFLICT (message_id) DO NOTHING
RETURNING message_id;

-- name: completed_reply^
SELECT reply FROM rpc_completed WHERE message_id = :message_id;

-- name: store_reply!
UPDATE rpc_completed SET reply = :reply WHERE message_id = :message_id;

-- name: purge_completed$
WITH purged AS (
    DELETE FROM rpc_completed
    WHERE completed_at < now() - make_interval(secs => :keep_seconds)
    RETURNING 1
)
SELECT count(*) FROM purged;
