"""aggregate: roll-ups per site, region and period for managers (wired in bootstrap.py)."""
