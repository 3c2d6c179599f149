-- The question bank: category key and difficulty (NULL when unknown).
SELECT id AS question_id, category, difficulty, is_active
FROM questions
