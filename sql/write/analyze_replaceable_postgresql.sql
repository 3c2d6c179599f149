-- Statistics for the freshly filled temporary table (autovacuum never sees it).
ANALYZE stage_replaceable
