-- One day of a learner's exam path planned tonight (docs/exam-path.md).
INSERT INTO learner_exam_paths (user_id, plan_start, day_no, category, planned_mastery)
VALUES (:user_id, :plan_start, :day_no, :category, :planned_mastery)
