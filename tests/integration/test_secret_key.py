"""Fail closed on secrets: no service, worker or signing command runs on a missing, short or public key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from qc.settings import DEV_SECRET_KEY, InsecureSettings, Settings
from qc_tools.devstack import free_port
from qc_tools.make_run import install_secret_key
from tests.conftest import run_qc

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _env(stack, **changes) -> dict[str, str]:
    env = {k: v for k, v in {**os.environ, **stack.env}.items() if k not in ("QC_SECRET_KEY", "QC_DEV_MODE")}
    env.update(changes)
    return env


@pytest.mark.parametrize(
    "key, says",
    [
        (None, "QC_SECRET_KEY is not set"),
        ("", "QC_SECRET_KEY is not set"),
        ("short-key", "9 characters long; it must be at least 32"),
        (DEV_SECRET_KEY, "the public development key"),
    ],
)
def test_a_web_service_refuses_to_start_without_a_strong_key(stack, tmp_path, key, says):
    # Before: it started with the public default key, so gunicorn ran until the timeout.
    env = _env(stack, **({} if key is None else {"QC_SECRET_KEY": key}))
    result = subprocess.run(
        [
            str(BIN / "gunicorn"),
            "-c",
            "python:qc_tools.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "services.checks.bootstrap:create_app()",
        ],
        env={**env, "QC_WEB_WORKERS": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert says in result.stderr + result.stdout


def test_a_worker_refuses_to_start_without_a_key(stack):
    result = subprocess.run(
        [sys.executable, "-m", "services.notify.worker"], env=_env(stack), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr + result.stdout
    assert "QC_SECRET_KEY is not set" in result.stderr + result.stdout


def test_the_retention_command_refuses_a_short_key(stack):
    result = run_qc(_env(stack, QC_SECRET_KEY="x" * 31), "retention", "run", "--dry-run", timeout=60)
    assert result.returncode == 2
    assert "31 characters long" in result.stderr


def test_development_mode_is_explicit():
    with pytest.raises(InsecureSettings):
        Settings.from_env({}).checked()
    assert Settings.from_env({"QC_DEV_MODE": "1"}).checked().secret_key == DEV_SECRET_KEY
    assert Settings.from_env({"QC_DEV_MODE": "1", "QC_SECRET_KEY": "mine"}).checked().secret_key == "mine"
    strong = "k" * 32
    assert Settings.from_env({"QC_SECRET_KEY": strong}).checked().secret_key == strong
    with pytest.raises(ValueError, match="QC_DEV_MODE must be 1 or 0"):
        Settings.from_env({"QC_DEV_MODE": "maybe"})


def test_make_run_keeps_one_private_key_per_install(tmp_path):
    key = install_secret_key(tmp_path)
    assert len(key) >= 32
    assert install_secret_key(tmp_path) == key  # the same install keeps its key across restarts
    mode = stat.S_IMODE((tmp_path / "secret-key").stat().st_mode)
    assert mode == 0o600
    assert install_secret_key(tmp_path / "other") != key  # another install gets its own


def test_after_make_run_the_cli_uses_the_installs_own_key(stack, tmp_path):
    key = install_secret_key(tmp_path)
    result = run_qc(_env(stack, QC_VAR_DIR=str(tmp_path)), "checker-link", "C-nobody", timeout=60)
    assert result.returncode == 1 and "no active checker C-nobody" in result.stderr  # not refused for the key
    assert key not in result.stdout + result.stderr
