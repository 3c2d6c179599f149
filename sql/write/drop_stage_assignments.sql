DROP TABLE IF EXISTS stage_assignments
