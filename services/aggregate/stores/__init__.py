"""One owner per collection: every read and write of a collection goes through its store."""
