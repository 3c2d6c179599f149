-- Before a learner's exam path planned tonight is written: the rows of a plan of the same
-- learner and start (a rerun of the night), so the plan is exactly tonight's.
DELETE FROM learner_exam_paths
WHERE user_id = :user_id AND plan_start = :plan_start
