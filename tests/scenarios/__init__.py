"""Worlds shared by more than one tier of tests: their data and how to build them."""
