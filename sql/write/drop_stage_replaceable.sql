DROP TABLE IF EXISTS stage_replaceable
