"""Rules: "if this trigger's payload matches, run that action", and their enforcements."""
