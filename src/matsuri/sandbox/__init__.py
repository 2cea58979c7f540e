"""The trust boundary: everything a participant or learner wrote runs through this package."""
