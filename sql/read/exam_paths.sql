-- The learners' exam paths in force on the run date (docs/exam-path.md): a plan started
-- before it and running to it, plan_start < :run_date <= plan_start + 6 (written as
-- :earliest <= plan_start, :earliest = run_date - 6, so SQLite and PostgreSQL alike). A
-- plan started on the run date itself is not in force: a rerun of a night plans anew.
SELECT user_id, plan_start, day_no, category, planned_mastery
FROM learner_exam_paths
WHERE plan_start < :run_date AND plan_start >= :earliest
