"""The QC_* settings for a test stack of its own: broker, database, SMTP sink and services on free ports."""

from __future__ import annotations

import secrets
from pathlib import Path

from qc_tools.devstack import SERVICES, free_port


def stack_env(var: Path, **overrides: str) -> dict[str, str]:
    """Settings for a stack on free ports under ``var``; ``overrides`` (QC_NAME="value") win.

    Each public URL follows its service's port (an overridden one too), unless it is overridden itself.
    """
    env = {
        "QC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "QC_MONGO_URI": f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        "QC_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "QC_CHECKS_PORT": str(free_port()),
        "QC_AGGREGATE_PORT": str(free_port()),
        "QC_NOTIFY_PORT": str(free_port()),
        "QC_VAR_DIR": str(var),
        # Each test stack has its own key, as each `make run` install has (qc_tools.make_run.install_secret_key).
        "QC_SECRET_KEY": secrets.token_urlsafe(32),
        # A stopped or killed member's partitions move after about the session timeout.
        "QC_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "QC_CONSUMER_POLL_MS": "200",
        # Tests send many checks from one address (127.0.0.1): intake limits off.
        "QC_RATE_LIMIT_SUBMISSIONS_PER_MINUTE": "0",
        "QC_RATE_LIMIT_SUBMISSIONS_PER_ADDRESS_PER_MINUTE": "0",
        **overrides,
    }
    for service in SERVICES:
        name = service.upper()
        env.setdefault(f"QC_{name}_PUBLIC_URL", f"http://127.0.0.1:{env[f'QC_{name}_PORT']}")
    return env
