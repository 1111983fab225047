"""`make run` keeps the stack up: a process that exits unexpectedly is started again, like systemd's
``Restart=on-failure`` or supervisord.

The first restart comes after ``first_delay`` seconds, each quick one after that waits twice as long
(at most ``max_delay``); a process that then runs for ``stable_after`` seconds starts from the first
delay again. One that keeps dying within ``stable_after`` of starting, ``crash_loop_after`` times in
a row, is in a crash loop: said plainly on the terminal and in the log, shown by ``qc status``, and
still retried, but only every ``max_delay`` seconds. Every exit and restart is one JSON line in
``var/log/supervisor.log``; the state of every process is kept in ``var/run/supervisor.json`` for
``qc status``.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from pathlib import Path

from qc.readiness import STATE_FILE


@dataclasses.dataclass
class Watched:
    """What the supervisor knows of one process."""

    started_at: float
    restarts: int = 0
    quick_deaths: int = 0  # in a row, each within stable_after of starting
    restart_at: float | None = None  # when the next start is due (while it is down)
    last_exit: str | None = None
    crash_loop: bool = False


class Supervisor:
    """Watches the processes of a ``qc_tools.devstack.Stack`` and restarts those that exit."""

    def __init__(
        self,
        stack,
        *,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        stable_after: float = 30.0,
        crash_loop_after: int = 5,
        clock=time.monotonic,
        wall=time.time,
        out=None,
        on_restart=None,
        dependents: dict[str, list[str]] | None = None,
        dependents_timeout: float = 5.0,
    ):
        self.stack = stack
        self.first_delay, self.max_delay = first_delay, max_delay
        self.stable_after, self.crash_loop_after = stable_after, crash_loop_after
        self.clock, self.wall = clock, wall
        self.out = out or sys.stdout
        # Called with a process name after it is started again (the broker needs its topics made again).
        self.on_restart = on_restart or (lambda name: None)
        # Processes stopped while one is started again, and started after it: the embedded broker keeps
        # nothing across a restart, and its clients would make the topics anew (with its own partition
        # count) before ours are made, so everything that talks to it starts again after it.
        self.dependents = dependents or {}
        self.dependents_timeout = dependents_timeout
        now = clock()
        self.watched = {name: Watched(started_at=now) for name in stack.procs}
        self.log_path = Path(stack.var_dir) / "log" / "supervisor.log"
        self.save()

    def check(self) -> None:
        """Note every process that has exited and start again those whose time has come."""
        now = self.clock()
        for name in list(self.stack.procs):
            proc = self.stack.procs[name]  # read afresh: a restart may have replaced it during this round
            state = self.watched.setdefault(name, Watched(started_at=now))
            if state.restart_at is None and proc.poll() is not None:
                self._exited(name, state, proc.returncode, now)
            if state.restart_at is not None and now >= state.restart_at:
                self._restart(name, state, now)
        self.save()

    def _exited(self, name: str, state: Watched, code: int, now: float) -> None:
        ran = now - state.started_at
        state.last_exit = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        state.quick_deaths = state.quick_deaths + 1 if ran < self.stable_after else 1
        delay = min(self.first_delay * 2 ** (state.quick_deaths - 1), self.max_delay)
        state.restart_at = now + delay
        self._say(
            "exited",
            name,
            f"stopped ({state.last_exit}) after {ran:.1f} s; starting it again in {delay:g} s",
            exit=state.last_exit,
            ran_seconds=round(ran, 1),
            restart_in_seconds=delay,
        )
        if state.quick_deaths >= self.crash_loop_after and not state.crash_loop:
            state.crash_loop = True
            self._say(
                "crash loop",
                name,
                f"{name} keeps stopping within {self.stable_after:.0f} s of starting "
                f"({state.quick_deaths} times in a row, last: {state.last_exit}); see {self.stack.var_dir}/log/"
                f"{name}.log. Still trying again every {self.max_delay:.0f} s.",
            )

    def _restart(self, name: str, state: Watched, now: float) -> None:
        held = [d for d in self.dependents.get(name, []) if d in self.stack.procs]
        # Together, and not for long: with the broker gone they cannot finish cleanly (a flush waits for it),
        # and a kill -9 loses nothing (tests/e2e/test_crash.py).
        self.stack.terminate(*held, timeout=self.dependents_timeout)
        self.stack.respawn(name)
        state.restart_at, state.started_at = None, self.clock()
        state.restarts += 1
        pid = self.stack.procs[name].pid
        self._say("restarted", name, f"started again (pid {pid})", pid=pid, restarts=state.restarts)
        self.on_restart(name)
        for dependent in held:
            self.stack.respawn(dependent)
            follower = self.watched.setdefault(dependent, Watched(started_at=now))
            follower.restart_at, follower.started_at = None, self.clock()
            follower.restarts += 1
            pid, why = self.stack.procs[dependent].pid, f"{name} was started again"
            self._say("restarted", dependent, f"started again (pid {pid}): {why}", pid=pid, because=why)

    def save(self) -> None:
        """Write every process's state for ``qc status``."""
        now, wall = self.clock(), self.wall()
        for state in self.watched.values():
            if state.restart_at is None and state.quick_deaths and now - state.started_at >= self.stable_after:
                state.quick_deaths, state.crash_loop = 0, False  # it has run long enough: out of any loop
        doc = {
            name: {
                "pid": self.stack.procs[name].pid if name in self.stack.procs else None,
                "started_at": wall - (now - state.started_at),
                "restarts": state.restarts,
                "down": state.restart_at is not None,
                "last_exit": state.last_exit,
                "crash_loop": state.crash_loop,
            }
            for name, state in self.watched.items()
        }
        path = Path(self.stack.var_dir) / "run" / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(path)

    def _say(self, event: str, name: str, words: str, **fields) -> None:
        """One JSON line in the supervisor's log, and the same in plain words on the terminal."""
        line = {"time": round(self.wall(), 3), "event": event, "process": name, "message": words, **fields}
        with open(self.log_path, "a") as log:
            log.write(json.dumps(line) + "\n")
        print(f"{name}: {words}", file=self.out, flush=True)
