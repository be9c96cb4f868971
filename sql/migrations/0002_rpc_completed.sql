-- Replies of non-idempotent RPC calls that have run, written in the same
-- transaction as their effect: a request redelivered after a worker crash
-- gets the stored reply instead of running twice.

CREATE TABLE rpc_completed (
    message_id   TEXT PRIMARY KEY,
    method       TEXT NOT NULL,
    reply        JSONB,
    completed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_rpc_completed_completed_at ON rpc_completed (completed_at);
