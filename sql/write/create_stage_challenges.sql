-- The day's distinct challenges, staged for one transaction.
CREATE TEMPORARY TABLE stage_challenges (
    content_key    TEXT NOT NULL PRIMARY KEY,
    challenge_type TEXT NOT NULL,
    category       TEXT,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    target_value   INTEGER NOT NULL,
    difficulty     REAL NOT NULL,
    xp_reward      INTEGER NOT NULL,
    bonus_xp       INTEGER NOT NULL,
    source         TEXT NOT NULL
)
