-- The audit trail (common/audit.py).

-- name: insert_audit_event$
INSERT INTO audit_events (event_id, type, user_id, ip, user_agent, request_id, data)
VALUES (:event_id, :type, :user_id, :ip, :user_agent, :request_id, :data)
RETURNING occurred_at;

-- name: user_audit_events
SELECT event_id, type, occurred_at, ip, user_agent, request_id, data
FROM audit_events
WHERE user_id = :user_id
ORDER BY id DESC
LIMIT :limit;
