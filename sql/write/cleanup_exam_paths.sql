-- Exam paths planned before the retention (docs/exam-path.md): a plan is in force for
-- seven days only, so these are history nobody reads; each re-plan adds seven rows.
DELETE FROM learner_exam_paths
WHERE plan_start < :before
