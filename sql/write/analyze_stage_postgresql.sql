-- Statistics for the freshly filled temporary staging tables (autovacuum never sees
-- temporary tables): without them the upsert's join is planned for a few rows, not millions.
ANALYZE stage_challenges, stage_assignments
