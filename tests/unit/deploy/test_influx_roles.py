"""Which process holds which InfluxDB login: every login is configured (in the settings and in the
parent's environment), and each child the stack starts gets only its own, with umask 077."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from deploy import influx_roles, workers
from deploy.influx_roles import CREDENTIALS
from deploy.processes import OWNER_ONLY_UMASK
from streams.infra.settings import Settings

WHO_HOLDS_WHAT: dict[tuple[str, ...], set[str]] = {
    ("worker", "rules"): set(),
    ("worker", "pager"): set(),
    ("watchdog",): set(),
    ("alerts",): set(),
    ("ack", "pt-1-s1:fever:1"): set(),
    ("simulate", "--speed", "60"): set(),
    ("console",): {"reader"},
    ("query", "alerts"): {"reader"},
    ("report", "pt-1-s1"): {"reader"},
    ("export", "fhir", "pt-1-s1"): {"reader"},
    ("worker", "writer"): {"writer", "reader"},
    ("import", "recorded.jsonl"): {"writer", "admin"},
    ("influx", "setup"): {"admin"},
}


class Spawned:
    """subprocess.Popen stand-in: keeps the argv, environment and umask of each child."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        Spawned.calls.append({"argv": argv, **kwargs})
        self.pid = 0

    def poll(self) -> int | None:
        return None


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    logins: dict[str, Any] = {}
    for role, (user_var, password_var) in CREDENTIALS.items():
        monkeypatch.setenv(user_var, f"ivigwatch-{role}")
        monkeypatch.setenv(password_var, f"password-of-{role}")
        logins[user_var.removeprefix("IVIGWATCH_").lower()] = f"ivigwatch-{role}"
        logins[password_var.removeprefix("IVIGWATCH_").lower()] = SecretStr(f"password-of-{role}")
    monkeypatch.setattr(subprocess, "Popen", Spawned)
    Spawned.calls = []
    return Settings(state_dir=tmp_path, influx_url="http://influx.invalid:8086", **logins)


def held(env: dict[str, str]) -> set[str]:
    """The roles whose user or password is in `env`."""
    return {role for role, names in CREDENTIALS.items() if any(name in env for name in names)}


@pytest.mark.parametrize(("args", "roles"), list(WHO_HOLDS_WHAT.items()))
def test_each_child_holds_only_its_own_influx_login(
    settings: Settings, args: tuple[str, ...], roles: set[str]
) -> None:
    workers.spawn_cli(list(args), settings, "probe")
    (call,) = Spawned.calls
    assert call["argv"][-len(args) :] == list(args)
    assert held(call["env"]) == roles
    for role in roles:  # the logins it holds are whole
        password_var = CREDENTIALS[role][1]  # type: ignore[index]
        assert call["env"][password_var] == f"password-of-{role}"
    assert call["umask"] == OWNER_ONLY_UMASK
    assert call["env"]["IVIGWATCH_STATE_DIR"] == str(settings.state_dir)  # the rest is passed on


def test_the_workers_and_the_watchdog_the_stack_starts(settings: Settings) -> None:
    workers.start_worker("rules", settings)
    workers.start_worker("writer", settings)
    workers.start_replica("rules", settings, "b")
    workers.start_watchdog(settings)
    rules, writer, replica, watchdog = (held(call["env"]) for call in Spawned.calls)
    assert (rules, writer, replica, watchdog) == (set(), {"writer", "reader"}, set(), set())


def test_an_extra_env_cannot_hand_the_writer_login_to_another_child(settings: Settings) -> None:
    extra = {"IVIGWATCH_INFLUX_PASSWORD": "password-of-writer", "IVIGWATCH_LOG_LEVEL": "debug"}
    workers.start_worker("rules", settings, extra_env=extra)
    (call,) = Spawned.calls
    assert held(call["env"]) == set()
    assert call["env"]["IVIGWATCH_LOG_LEVEL"] == "debug"


def test_roles_of_reads_the_command_words() -> None:
    assert influx_roles.roles_of(["worker", "writer"]) == ("writer", "reader")
    assert influx_roles.roles_of(["worker", "rules"]) == ()
    assert influx_roles.roles_of(["--help"]) == ()
    assert influx_roles.roles_of([]) == ()


def test_the_credential_variables_are_settings() -> None:
    fields = {f"IVIGWATCH_{name.upper()}" for name in Settings.model_fields}
    assert {name for names in CREDENTIALS.values() for name in names} <= fields
