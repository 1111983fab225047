"""The reverse proxy's access log never holds a sign-in secret or a query string (privacy).

Runs the real deploy/nginx.conf (Debian's nginx, when installed) on a free
port with the services pointed at a closed port: every request is answered
502, and logged, which is all this test needs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = [pytest.mark.integration, pytest.mark.skipif(NGINX is None, reason="nginx is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(tmp: Path, port: int, dead: int) -> Path:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in (
        ("pid /var/run/nginx.pid;", f"pid {tmp}/nginx.pid;"),
        ("error_log /dev/stderr crit;", f"error_log {tmp}/error.log crit;"),
        ("access_log /dev/stdout qc;", f"access_log {tmp}/access.log qc;"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("http://checks-web:8001", f"http://127.0.0.1:{dead}"),
        ("http://aggregate-web:8002", f"http://127.0.0.1:{dead}"),
        ("http://notify-web:8003", f"http://127.0.0.1:{dead}"),
    ):
        assert old in text, f"deploy/nginx.conf no longer has {old!r}: update this test"
        text = text.replace(old, new)
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


def test_sign_in_links_and_query_strings_are_not_logged(tmp_path):
    port, dead = _free_port(), _free_port()
    conf = _conf(tmp_path, port, dead)
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/proxy-healthz"), 20, "nginx to answer")
        secret, board_token, words = "s3cr3t-sign-in-token", "b0ard-t0ken", "my-carer-shouts"
        paths = (
            f"/s/{secret}",
            f"//s/{secret}",  # the same link to the app, written differently
            f"/%73/{secret}",
            f"/sites/S0001/board?t={board_token}",
            f"/manager/themes/x/y?q={words}",
        )
        for path in paths:
            assert requests.get(base + path, timeout=10).status_code == 502, path
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 404  # not for the public
        log = tmp_path / "access.log"
        text = wait_for(lambda: _lines(log, 6), 10, "six access lines")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
    errors = (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else ""
    for written in (text, errors):
        assert secret not in written and board_token not in written and words not in written
    assert text.count('"GET /s/[token] HTTP/1.1" 502') == 3
    assert '"GET /sites/S0001/board?[query] HTTP/1.1" 502' in text


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _lines(log: Path, wanted: int) -> str | None:
    text = log.read_text() if log.exists() else ""
    return text if text.count("\n") >= wanted else None
