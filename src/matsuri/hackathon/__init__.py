"""The hackathon runner: event settings, teams, confined submission runs, scoring on hidden
labels, leaderboards, judges' marks and the awards report."""
