"""checks: the checker's form, the intake API and the directory's owner (wired in bootstrap.py)."""
