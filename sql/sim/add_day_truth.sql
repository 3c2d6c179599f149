-- simulate --add-day: the true skill (logit) and answers per category of the day's
-- practisers (their ids in the connection's temporary table add_day_who).
SELECT t.user_id, t.category, t.theta, t.answers
FROM sim_ground_truth t
JOIN add_day_who w ON w.user_id = t.user_id
