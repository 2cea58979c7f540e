"""The judges' gallery: Voila serving an index app, each team's demo and the rubric app."""
