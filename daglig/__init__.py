"""daglig: the nightly pipeline that gives every active learner personalised daily challenges."""

__version__ = "0.1.0"
