-- The written form of the learners who chose one (users.preferred_language, 'nb' or 'nn';
-- an optional column of the app's, read only when the table has it). Everyone else is
-- Bokmål.
SELECT u.id AS user_id,
       u.preferred_language
FROM users u
WHERE u.created_at < :cutoff
  AND u.preferred_language IS NOT NULL
