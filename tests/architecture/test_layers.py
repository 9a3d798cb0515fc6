"""The layering check: the project keeps its import contracts (pyproject's [tool.importlinter],
checked by import-linter), each contract rejects a deliberate violation, and no two modules share a
name across folders unless the allowlist below says why. docs/architecture.md describes the layers."""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("models", "agents", "streams", "deploy")
CONTRACT_TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}
SHARED_NAMES_ALLOWED: dict[str, str] = {}
"""Module file names that may repeat across folders, each with the reason (none today)."""


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return read_configuration(str(ROOT / "pyproject.toml"))


@pytest.fixture(scope="module")
def project_graph(config: dict[str, Any]) -> grimp.ImportGraph:
    session = config["session_options"]
    return grimp.build_graph(
        *session["root_packages"],
        include_external_packages=session.get("include_external_packages") == "True",
        cache_dir=None,
    )


def contract(config: dict[str, Any], contract_id: str) -> Contract:
    options = next(c for c in config["contracts_options"] if c.get("id") == contract_id)
    return CONTRACT_TYPES[options["type"]](
        name=options["name"], session_options=config["session_options"], contract_options=options
    )


def kept(config: dict[str, Any], graph: grimp.ImportGraph, contract_id: str, *added: tuple[str, str]) -> bool:
    """Whether the contract holds on the project's graph plus the `added` (importer, imported)."""
    graph = copy.deepcopy(graph)
    for importer, imported in added:
        graph.add_import(importer=importer, imported=imported)
    return bool(contract(config, contract_id).check(graph, verbose=False).kept)


@pytest.mark.parametrize("contract_id", ["layers", "pure-core", "no-cycles"])
def test_the_project_keeps_its_import_contracts(
    config: dict[str, Any], project_graph: grimp.ImportGraph, contract_id: str
) -> None:
    assert kept(config, project_graph, contract_id)


@pytest.mark.parametrize(
    "upward",
    [
        ("streams.infra.settings", "streams.apps.cli.main"),  # infrastructure importing an application
        ("agents.event_agent", "streams.apps.replay"),  # an agent importing an application
        ("models.events", "agents.rules.engine"),  # a contract importing the rules
        ("streams.infra.sinks.influx.influx_client", "agents.runtime"),  # infrastructure importing an agent
    ],
)
def test_an_upward_import_breaks_the_layers(
    config: dict[str, Any], project_graph: grimp.ImportGraph, upward: tuple[str, str]
) -> None:
    assert not kept(config, project_graph, "layers", upward)


@pytest.mark.parametrize(
    "impure",
    [
        ("agents.rules.engine", "faust"),
        ("models.alerts", "aiohttp"),
        ("agents.rules.timers", "agents.runtime"),
    ],
)
def test_io_in_the_pure_core_breaks_its_contract(
    config: dict[str, Any], project_graph: grimp.ImportGraph, impure: tuple[str, str]
) -> None:
    assert not kept(config, project_graph, "pure-core", impure)


def test_a_cycle_between_sibling_packages_breaks_its_contract(
    config: dict[str, Any], project_graph: grimp.ImportGraph
) -> None:
    # The InfluxDB encoding reads the topic names: a way back from the Kafka package closes a cycle.
    assert project_graph.direct_import_exists(
        importer="streams.infra.sinks.influx.line_protocol", imported="streams.infra.kafka.topics"
    )
    back = ("streams.infra.kafka.topics", "streams.infra.sinks.interface")
    assert not kept(config, project_graph, "no-cycles", back)


def shared_module_names(root: Path) -> dict[str, list[str]]:
    """Module file names found in more than one folder of the source tree."""
    where: dict[str, list[str]] = defaultdict(list)
    for folder in SOURCE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if path.name not in ("__init__.py", "__main__.py"):
                where[path.name].append(str(path.relative_to(root)))
    return {name: paths for name, paths in where.items() if len(paths) > 1}


def test_no_two_modules_share_a_name_across_folders() -> None:
    shared = shared_module_names(ROOT)
    assert {n: p for n, p in shared.items() if n not in SHARED_NAMES_ALLOWED} == {}
    assert set(SHARED_NAMES_ALLOWED) <= set(shared), "an allowlisted name no longer repeats: drop it"


def test_the_name_check_finds_a_repeated_name(tmp_path: Path) -> None:
    for path in ("models/events.py", "agents/events.py", "streams/apps/x.py", "deploy/__init__.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    assert shared_module_names(tmp_path) == {"events.py": ["models/events.py", "agents/events.py"]}
