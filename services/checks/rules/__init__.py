"""Pure decisions: no I/O, so each is tested without a broker or a database."""
