-- This database's identity (one row), created by daglig/identity.py: ensure_identity.
SELECT identity, created_at FROM pipeline_identity WHERE slot = 1
