"""SQLAlchemy 2.x models of the app-database contract (``shared/contract/app-database.md``).

The app owns ``users``, ``user_progress``, ``questions``, ``quiz_sessions`` and
``question_attempts``; the pipeline owns ``daily_challenges``, ``user_daily_challenges`` and
``challenge_settings`` and creates them when missing. The pipeline never alters app tables.
"""

from models.tables import (
    APP_TABLES,
    PIPELINE_TABLES,
    Base,
    ChallengeSetting,
    DailyChallenge,
    Question,
    QuestionAttempt,
    QuizSession,
    User,
    UserDailyChallenge,
    UserProgress,
    create_app_tables,
    create_pipeline_tables,
)

__all__ = [
    "APP_TABLES",
    "PIPELINE_TABLES",
    "Base",
    "ChallengeSetting",
    "DailyChallenge",
    "Question",
    "QuestionAttempt",
    "QuizSession",
    "User",
    "UserDailyChallenge",
    "UserProgress",
    "create_app_tables",
    "create_pipeline_tables",
]
