-- Completed exam quizzes before the cutoff: the learner model's exam-score features.
SELECT user_id, completed_at, total_questions, correct_answers
FROM quiz_sessions
WHERE quiz_type = 'exam' AND completed_at IS NOT NULL AND completed_at < :cutoff
