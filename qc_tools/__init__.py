"""Entry points and tools around the library in ``qc/``: the ``qc`` command, `make run`'s stack and its
supervisor, the SMTP sink, the demo data, and gunicorn's settings. Nothing in ``qc/`` imports these."""
