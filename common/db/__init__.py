"""PostgreSQL access: the pool, named queries from sql/queries, and migrations."""
