DROP TABLE IF EXISTS stage_challenges
