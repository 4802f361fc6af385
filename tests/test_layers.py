"""Imports point down only: ui -> services -> domain; domain does no I/O; the UI never touches store or devices."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_LIBS = {"peewee", "playhouse", "kivy", "bleak", "serial", "paho", "escpos", "requests", "sqlite3", "socket", "subprocess", "usb"}

# layer -> (forbidden project packages, forbidden third-party top-level modules)
RULES = {
    "truck_pos.domain": ({"truck_pos.services", "truck_pos.store", "truck_pos.devices", "truck_pos.ui", "truck_pos.bootstrap",
                          "truck_pos.config", "truck_pos.cli", "sync"}, IO_LIBS | {"os", "pathlib", "threading", "asyncio"}),
    "truck_pos.ui": ({"truck_pos.store", "truck_pos.devices", "sync", "truck_pos.cli"}, IO_LIBS - {"kivy"}),
    "truck_pos.services": ({"truck_pos.ui", "truck_pos.cli", "truck_pos.bootstrap"}, {"kivy"}),
    "truck_pos.store": ({"truck_pos.services", "truck_pos.ui", "truck_pos.devices", "truck_pos.cli", "sync"}, {"kivy"}),
    "truck_pos.devices": ({"truck_pos.services", "truck_pos.ui", "truck_pos.store", "truck_pos.cli"}, {"kivy"}),
    # sync/ is split by where the code runs: the contract is shared, the agent runs on the truck, the hub in the cloud
    "sync.protocol": ({"truck_pos", "sync.agent", "sync.hub", "sync.owner", "devtools"}, IO_LIBS),
    "sync.agent": ({"sync.hub", "sync.owner", "devtools", "truck_pos.ui"}, {"kivy"}),
    "sync.hub": ({"sync.agent", "sync.owner", "devtools", "truck_pos.ui", "truck_pos.store.models", "truck_pos.devices",
                  "truck_pos.services", "truck_pos.bootstrap"}, {"kivy"}),
    "sync.owner": ({"sync.agent", "devtools", "truck_pos.ui", "truck_pos.devices"}, {"kivy"}),
    "truck_pos": ({"devtools"}, set()),
    "sync": ({"devtools"}, set()),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


SOURCES = sorted(p for pkg in ("truck_pos", "sync") for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_respect_the_layers(path):
    name = module_name(path)
    for layer, (forbidden_pkgs, forbidden_libs) in RULES.items():
        if name == layer or name.startswith(layer + "."):
            for imported in imports(path):
                top = imported.split(".")[0]
                assert top not in forbidden_libs, f"{name} imports {imported}: {layer} must not"
                for pkg in forbidden_pkgs:
                    assert not (imported == pkg or imported.startswith(pkg + ".")), f"{name} imports {imported}: {layer} must not"
