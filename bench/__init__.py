"""`make bench`: how fast and how lean the pipeline is, against baselines measured in the same run.

Every phase starts its own stack (broker, database, SMTP sink, services) on
free ports under a temporary directory, so nothing else on the machine is
touched, and the broker (which keeps every message in memory) starts empty.
"""
