-- simulate --add-day: the true skill moved on by the day's practice.
UPDATE sim_ground_truth
SET theta = s.theta,
    mastery = s.mastery,
    answers = s.answers
FROM add_day_truth AS s
WHERE sim_ground_truth.user_id = s.user_id
  AND sim_ground_truth.category = s.category
