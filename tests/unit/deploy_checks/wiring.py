"""How the pieces find each other: Prometheus and Grafana through their mounts, nginx to the services, the image."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import yaml
from flask import Blueprint, Flask

from qc.settings import ROOT
from tests.unit.deploy_checks.compose import host_path, listens_on, services, web_ports


def blueprint_routes() -> dict[str, list[str]]:
    """URL rules of each service's blueprints (the /healthz, /readyz, /metrics of qc.web aside)."""
    routes = {}
    for info in pkgutil.iter_modules([str(ROOT / "services")]):
        if not info.ispkg:
            continue
        importlib.import_module(f"services.{info.name}.bootstrap")  # imports every page module, as create_app does
        package = importlib.import_module(f"services.{info.name}.web")
        app = Flask(f"probe_{info.name}")
        # Only the web room's modules that make a blueprint: the rest need not import for this.
        names = sorted(
            m.name
            for m in pkgutil.iter_modules(package.__path__)
            if not m.ispkg and "Blueprint(" in (ROOT / "services" / info.name / "web" / f"{m.name}.py").read_text()
        )
        blueprints = {
            id(v): v
            for n in names
            for v in vars(importlib.import_module(f"services.{info.name}.web.{n}")).values()
            if isinstance(v, Blueprint)
        }
        for bp in blueprints.values():
            app.register_blueprint(bp)
        rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
        if (ROOT / "services" / info.name / "web" / "static").is_dir():  # the app's own /static/<filename>
            rules.add(f"{app.static_url_path}/<path:filename>")
        routes[info.name] = sorted(rules)
    return routes


# --- nginx ------------------------------------------------------------------


def nginx_locations(conf: str) -> list[tuple[str, str, str]]:
    """(modifier, pattern, body) of each location block, quoted strings respected."""
    found = []
    for m in re.finditer(r"location\s+(=|~\*|~|\^~)?\s*(\S+)\s*\{", conf):
        depth, i, quote = 1, m.end(), None
        while depth:
            ch = conf[i]
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            else:
                depth += {"{": 1, "}": -1}.get(ch, 0)
            i += 1
        found.append((m.group(1) or "", m.group(2), conf[m.end() : i - 1]))
    return found


def nginx_route(locations: list[tuple[str, str, str]], path: str) -> str | None:
    """The body of the location nginx picks for ``path`` (exact, then ^~ prefix, regex, longest prefix)."""
    prefixes = [(p, mod, body) for mod, p, body in locations if mod in ("", "^~") and path.startswith(p)]
    for mod, pattern, body in locations:
        if mod == "=" and pattern == path:
            return body
    longest = max(prefixes, key=lambda x: len(x[0]), default=None)
    if longest and longest[1] == "^~":
        return longest[2]
    for mod, pattern, body in locations:
        if mod in ("~", "~*") and re.search(pattern, path, re.IGNORECASE if mod == "~*" else 0):
            return body
    return longest[2] if longest else None


def nginx_problems(conf: str, compose: dict, routes: dict[str, list[str]], max_body_bytes: int) -> list[str]:
    """Upstreams are compose services on their ports, and every route reaches the service that serves it."""
    problems = []
    variables = dict(re.findall(r"set\s+\$(\w+)\s+(\S+);", conf))
    upstreams = {}  # location body -> compose service
    for _, pattern, body in nginx_locations(conf):
        target = re.search(r"proxy_pass\s+(\S+);", body)
        if not target:
            continue
        url = target.group(1)
        url = variables.get(url[1:], f"undefined {url}") if url.startswith("$") else url
        host = re.fullmatch(r"https?://([\w.-]+):(\d+)/?", url)
        if not host or int(host.group(2)) not in listens_on(compose, host.group(1)):
            problems.append(f"location {pattern}: {url} is not a compose service on a port it serves")
            continue
        upstreams[body] = host.group(1)
    web = {svc: name for name, (svc, _) in web_ports(compose).items()}
    for service, rules in routes.items():
        for rule in rules:
            path = re.sub(r"<[^>]*>", "x1", rule)
            body = nginx_route(nginx_locations(conf), path)
            if upstreams.get(body) != web.get(service):
                problems.append(f"{path} is served by {web.get(service)} but nginx sends it to {upstreams.get(body)}")
    limit = re.search(r"client_max_body_size\s+(\d+)([kKmM]?);", conf)
    size = int(limit.group(1)) * {"": 1, "k": 1024, "m": 1024**2}[limit.group(2).lower()] if limit else None
    if size != max_body_bytes:
        problems.append(f"client_max_body_size is {size} bytes, the services allow {max_body_bytes}")
    return problems


# --- Dockerfile -------------------------------------------------------------


def dockerignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore ``patterns`` leave ``path`` (or a folder it is in) out of the build context."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex.replace(r"\?", "[^/]"), c) for c in candidates):
            ignored = not negate
    return ignored


def dockerfile_problems(dockerfile: str, dockerignore: list[str], settings_defaults: dict, base: Path) -> list[str]:
    """COPY sources exist and are in the context; ENV names are settings; file settings point at copied files."""
    problems = []
    text = dockerfile.replace("\\\n", " ")
    workdir = (re.findall(r"^WORKDIR\s+(\S+)", text, re.M) or ["/"])[-1]
    copied = [
        s for line in re.findall(r"^COPY\s+(.+)$", text, re.M) for s in line.split()[:-1] if not s.startswith("--")
    ]
    for source in copied:
        if not (base / source).exists():
            problems.append(f"COPY {source}: no such file")
        elif dockerignored(dockerignore, source):
            problems.append(f"COPY {source}: .dockerignore leaves it out of the build context")
    env = dict(re.findall(r"\b(QC_\w+)=(\S+)", "\n".join(re.findall(r"^ENV\s+(.+)$", text, re.M))))
    for name in env:
        if name[3:].lower() not in settings_defaults:
            problems.append(f"ENV {name} is not a setting")
    # A default under the source tree is wrong once the package is installed into site-packages.
    for field, default in settings_defaults.items():
        if not isinstance(default, Path) or ROOT not in default.parents:
            continue
        relative = default.relative_to(ROOT).as_posix()
        expected = f"{workdir.rstrip('/')}/{relative}"
        if env.get(f"QC_{field.upper()}") != expected:
            problems.append(f"ENV QC_{field.upper()} must be {expected} (the default lies inside the source tree)")
        elif dockerignored(dockerignore, relative):
            continue  # made at run time (var/), not shipped
        elif not any(relative == c or relative.startswith(c + "/") for c in copied):
            problems.append(f"{relative} is used by QC_{field.upper()} but not copied into the image")
    return problems


# --- Prometheus and Grafana --------------------------------------------------


def prometheus_problems(prom: dict, compose: dict, base: Path, config: Path) -> list[str]:
    """The container reads ``config``, finds every rule file through its mounts, and scrapes every web service."""
    svc = services(compose).get("prometheus")
    if svc is None:
        return ["there is no prometheus service"]
    problems = []
    flag = next((str(c) for c in svc.get("command") or [] if str(c).startswith("--config.file=")), "=")
    found = host_path(svc, flag.split("=", 1)[1], base)
    if found is None or found.resolve() != config.resolve():
        problems.append(f"prometheus reads {flag}, which is not {config} through its mounts")
    for rule_file in prom.get("rule_files") or []:
        host = host_path(svc, rule_file, base)
        if host is None or not list(host.parent.glob(host.name)):
            problems.append(f"rule file {rule_file} is not a file through the prometheus mounts")
    jobs = [job.get("job_name") for job in prom.get("scrape_configs") or []]
    if len(jobs) != len(set(jobs)):
        problems.append(f"scrape job names repeat: {jobs}")
    scraped = set()
    for job in prom.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if not port.isdigit() or int(port) not in listens_on(compose, host):
                    problems.append(f"job {job.get('job_name')}: {target} is not a compose service on a port it serves")
                scraped.add(host)
    problems += [f"{name} is not scraped" for name in sorted(set(web_ports(compose)) - scraped)]
    return problems


def grafana_problems(compose: dict, base: Path) -> list[str]:
    """Provisioning is mounted where Grafana reads it; dashboards and data sources resolve."""
    svc = services(compose).get("grafana") or {}
    provisioning = host_path(svc, "/etc/grafana/provisioning", base)
    if provisioning is None or not provisioning.is_dir():
        return ["nothing is mounted at /etc/grafana/provisioning"]
    problems = []
    providers = [
        p for f in sorted(provisioning.glob("dashboards/*.y*ml")) for p in yaml.safe_load(f.read_text())["providers"]
    ]
    if not providers:
        problems.append("no dashboard provider is provisioned")
    for provider in providers:
        path = (provider.get("options") or {}).get("path") or ""
        host = host_path(svc, path, base)
        if host is None or not list(host.glob("*.json")):
            problems.append(f"dashboard provider {provider.get('name')}: {path!r} holds no dashboards in the container")
    for source in provisioned_datasources(provisioning):
        url = re.fullmatch(r"https?://([\w.-]+):(\d+)/?", str(source.get("url")))
        if not url or int(url.group(2)) not in listens_on(compose, url.group(1)):
            problems.append(f"data source {source.get('name')}: {source.get('url')} is not a compose service")
    return problems


def provisioned_datasources(provisioning: Path) -> list[dict]:
    """The data sources in Grafana's provisioning directory."""
    files = sorted(provisioning.glob("datasources/*.y*ml"))
    return [d for f in files for d in yaml.safe_load(f.read_text()).get("datasources") or []]
