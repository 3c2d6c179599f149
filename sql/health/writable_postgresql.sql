-- Could this session write? A standby, a read-only default (ALTER ROLE/DATABASE … SET
-- default_transaction_read_only) or no CREATE on the schema says no, without writing.
SELECT pg_is_in_recovery() AS standby,
       current_setting('transaction_read_only') = 'on' AS read_only,
       has_schema_privilege(current_schema(), 'CREATE') AS can_create
