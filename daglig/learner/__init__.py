"""The learner model: point-in-time features, estimators, training, assessment, selection.

It answers the seed's two questions for every user at once — *which categories are weak*
(``get_weak_areas``) and *how skilled is the learner* (``get_skill_assessment``) — from a
scikit-learn model trained on the answer log, validated against baselines and versioned.
"""
