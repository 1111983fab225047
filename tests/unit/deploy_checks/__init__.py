"""Checks of the deploy files against the code, for tests/unit/test_deploy.py.

Each check takes parsed data and returns a list of problems (empty when all
is well), so a test can feed it a small bad fixture and see it complain.

- promql: the metrics the code defines, and the rules and dashboards' queries
- compose: docker-compose.yml's services, commands, settings and ports
- wiring: how Prometheus, Grafana, nginx and the image find each other
"""
