"""docker-compose.yml: dependencies, health checks, restarts, volumes, commands, settings and ports."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
from pathlib import Path


def services(compose: dict) -> dict[str, dict]:
    """The compose services."""
    return compose.get("services") or {}


def environment(service: dict) -> dict[str, str]:
    """A service's environment, whether written as a mapping or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    """A service's dependencies and their conditions."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (cond or {}).get("condition", "service_started") for name, cond in deps.items()}


def web_ports(compose: dict) -> dict[str, tuple[str, int]]:
    """Compose services run by gunicorn: name -> (qc service, bound port)."""
    found = {}
    for name, svc in services(compose).items():
        command = [str(c) for c in svc.get("command") or []]
        if command[:1] != ["gunicorn"]:
            continue
        bind = command[command.index("--bind") + 1] if "--bind" in command else ""
        app = re.fullmatch(r"services\.(\w+)\.bootstrap:create_app\(\)", command[-1])
        found[name] = (app.group(1) if app else command[-1], int(bind.rpartition(":")[2] or 0))
    return found


def listens_on(compose: dict, host: str) -> set[int]:
    """Ports a compose service serves on: its gunicorn bind, or container ports it publishes or exposes."""
    svc = services(compose).get(host)
    if svc is None:
        return set()
    ports = {port for name, (_, port) in web_ports(compose).items() if name == host}
    declared = [*(svc.get("ports") or []), *(svc.get("expose") or [])]
    return ports | {int(str(p).rpartition(":")[2].split("/")[0]) for p in declared}


def host_path(service: dict, container_path: str, base: Path) -> Path | None:
    """Where a path inside a container comes from on the host, through its bind mounts."""
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if source.startswith((".", "/")) and (container_path == target or container_path.startswith(target + "/")):
            return base / source / container_path[len(target) :].lstrip("/")
    return None


def compose_problems(compose: dict, base: Path) -> list[str]:
    """Dependencies, health checks, restart policies, volumes and metrics directories."""
    problems = []
    svcs = services(compose)
    one_shots = {d for s in svcs.values() for d, c in depends_on(s).items() if c == "service_completed_successfully"}
    must_be_healthy = {"kafka", "mongo", *web_ports(compose)}
    problems += [f"there is no {name} service" for name in sorted({"kafka", "mongo"} - set(svcs))]
    for name, svc in svcs.items():
        for dep, condition in depends_on(svc).items():
            if dep not in svcs:
                problems.append(f"{name} depends on {dep}, which is not a service")
            elif condition == "service_healthy" and "healthcheck" not in svcs[dep]:
                problems.append(f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck")
        if name in must_be_healthy and "healthcheck" not in svc:
            problems.append(f"{name} has no healthcheck")
        restart = svc.get("restart")
        if name in one_shots and restart in ("always", "unless-stopped"):
            problems.append(f"{name} is a one-shot job but restart: {restart} would rerun it forever")
        elif name not in one_shots and restart not in ("always", "unless-stopped"):
            problems.append(f"{name} runs for good but has restart: {restart!r}")
        for volume in svc.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                if not (base / source).exists():
                    problems.append(f"{name} mounts {source}, which does not exist")
            elif source not in (compose.get("volumes") or {}):
                problems.append(f"{name} mounts volume {source}, which is not declared")
        problems += _metrics_dir_problems(name, svc, svcs)
    return problems


def _metrics_dir_problems(name: str, svc: dict, svcs: dict) -> list[str]:
    """A worker writes its metrics where its web's /metrics reads them, with PIDs unique between them."""
    directory = environment(svc).get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not (name.endswith("-worker") or name in web_ports({"services": svcs})):
        return []
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svc.get("volumes") or []}
    if directory not in mounts:
        return [f"{name}: PROMETHEUS_MULTIPROC_DIR {directory} is not a mounted volume"]
    web = name.removesuffix("-worker") + "-web"
    if name.endswith("-worker") and web in svcs:
        web_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svcs[web].get("volumes") or []}
        if web_mounts.get(directory) != mounts[directory]:
            return [f"{name} writes metrics to {mounts[directory]}, but {web} serves {web_mounts.get(directory)}"]
        if svc.get("pid") != f"service:{web}":
            return [f"{name} needs pid: service:{web} (metrics files are named by PID)"]
    return []


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _cli_accepts(argv: list[str]) -> bool:
    from qc_tools import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            cli.main([*argv, "--help"])
        except SystemExit as e:
            return e.code == 0
    return False


def command_problems(compose: dict, scripts: dict[str, str]) -> list[str]:
    """Each qc container's command names real code: an app factory, a worker module or a qc subcommand."""
    problems = []
    for name, svc in services(compose).items():
        if "build" not in svc:
            continue
        command = [str(c) for c in svc.get("command") or []]
        if command[:1] == ["gunicorn"]:
            conf = command[command.index("-c") + 1] if "-c" in command else ""
            if conf.startswith("python:") and not _module_exists(conf[len("python:") :]):
                problems.append(f"{name}: gunicorn config {conf} does not exist")
            module, _, call = command[-1].partition(":")
            if call != "create_app()" or not _module_exists(module):
                problems.append(f"{name}: {command[-1]} is not a services.<name>.bootstrap:create_app() that exists")
            elif not callable(getattr(importlib.import_module(module), "create_app", None)):
                problems.append(f"{name}: {module} has no create_app")
        elif command[:2] == ["python", "-m"] and len(command) > 2:
            if not _module_exists(command[2]):
                problems.append(f"{name}: no module {command[2]}")
        elif command[:1] == ["qc"]:
            if scripts.get("qc") != "qc_tools.cli:main":
                problems.append(f"{name}: pyproject.toml installs no qc command (qc_tools.cli:main)")
            elif not _cli_accepts(command[1:]):
                problems.append(f"{name}: `{' '.join(command)}` is not a qc command")
        else:
            problems.append(f"{name}: cannot tell what {command} runs")
    return problems


def coverage_problems(compose: dict, packages: list[str]) -> list[str]:
    """Every service package runs in compose: a web container, and a worker container when it has a worker."""
    problems = []
    webs = {service for service, _ in web_ports(compose).values()}
    for package in packages:
        if package not in webs:
            problems.append(f"services/{package} has no web container")
        if _module_exists(f"services.{package}.worker") and f"{package}-worker" not in services(compose):
            problems.append(f"services/{package} has a worker but no {package}-worker container")
    return problems


def env_problems(compose: dict, defaults: dict) -> list[str]:
    """QC_* names given to containers are settings; every public URL is set (they must go through the proxy)."""
    problems = []
    public = sorted(f"QC_{f.upper()}" for f in defaults if f.endswith("_public_url"))
    for name, svc in services(compose).items():
        env = environment(svc)
        problems += [
            f"{name}: {k} is not a setting" for k in env if k.startswith("QC_") and k[3:].lower() not in defaults
        ]
        if "build" in svc:
            problems += [f"{name}: {k} is not set, so links would point at 127.0.0.1" for k in public if k not in env]
    return problems


def port_problems(compose: dict, defaults: dict) -> list[str]:
    """Web containers bind the settings' default ports, and their health checks ask that port."""
    problems = []
    for name, (service, port) in web_ports(compose).items():
        expected = defaults.get(f"{service}_port")
        if port != expected:
            problems.append(f"{name} binds port {port}, but QC_{service.upper()}_PORT defaults to {expected}")
        test = " ".join(str(t) for t in (services(compose)[name].get("healthcheck") or {}).get("test") or [])
        if f":{port}/" not in test:
            problems.append(f"{name}: its healthcheck does not ask port {port}")
    return problems
