"""How an alert leaves notify: e-mail (recorded, sent, retried), signed webhooks, notes to supporters."""
