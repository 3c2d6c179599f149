-- The run date's challenges, for the COPY path: the id each content_key got.
SELECT content_key, id
FROM daily_challenges
WHERE challenge_date = :challenge_date
