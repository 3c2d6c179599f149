INSERT INTO stage_challenges (content_key, challenge_type, category, title, description,
                              target_value, difficulty, xp_reward, bonus_xp, source)
VALUES (:content_key, :challenge_type, :category, :title, :description,
        :target_value, :difficulty, :xp_reward, :bonus_xp, :source)
