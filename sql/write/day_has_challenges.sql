-- Does the run date have any challenge row yet? None means it has no assignment either:
-- every assignment points at a challenge of its own date (insert_assignments joins on
-- it; the foreign key keeps that challenge while the assignment exists), and only the
-- pipeline inserts assignments (the app updates progress). Asked under the day's lock.
-- An index lookup (UNIQUE (challenge_date, content_key)); user_daily_challenges has no
-- index that leads with challenge_date.
SELECT EXISTS (SELECT 1 FROM daily_challenges WHERE challenge_date = :challenge_date)
