"""The example truck config documents every setting, and config loading refuses bad input by name."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

import pytest

from truck_pos.config import Settings, load_settings
from truck_pos.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "firmware_config" / "truck.ini.example"
# Keys whose example value is the appliance's, not the code default (documented as such).
APPLIANCE_VALUES = {("store", "path")}


def _sections() -> dict[str, type]:
    return {f.name: f.default_factory for f in dataclasses.fields(Settings) if f.name != "config_file"}


def _example() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(EXAMPLE, encoding="utf-8")
    return parser


def test_example_loads_with_the_real_loader() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.config_file == str(EXAMPLE)
    assert settings.store.path == "/var/lib/truck_pos/truck.db"


@pytest.mark.parametrize("section", sorted(_sections()))
def test_every_settings_field_is_in_the_example(section: str) -> None:
    parser = _example()
    assert parser.has_section(section), f"truck.ini.example has no [{section}] section"
    missing = [f.name for f in dataclasses.fields(_sections()[section]) if f.name not in parser[section]]
    assert not missing, f"[{section}] keys missing from truck.ini.example: {missing}"


def test_every_example_key_is_preceded_by_a_comment() -> None:
    """Documented means: a comment line above each key (or above its group of keys)."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    undocumented, previous = [], ""
    for line in lines:
        if line and not line.startswith(("#", "[")) and not previous.startswith("#") and "=" not in previous:
            undocumented.append(line)
        previous = line
    assert not undocumented


def test_example_values_are_the_code_defaults() -> None:
    """So the comments' 'default' never lies; appliance-specific values are listed above."""
    settings, defaults = load_settings(EXAMPLE, env={}), Settings()
    for section in _sections():
        for f in dataclasses.fields(_sections()[section]):
            if (section, f.name) in APPLIANCE_VALUES:
                continue
            got, want = getattr(getattr(settings, section), f.name), getattr(getattr(defaults, section), f.name)
            assert got == want, f"[{section}] {f.name}: example {got!r} != default {want!r}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "truck.ini"
    path.write_text(text, "utf-8")
    return path


def test_environment_overrides_the_file_and_config_path_comes_from_env(tmp_path: Path) -> None:
    path = _write(tmp_path, "[printer]\npaper_mm = 80\nkind = usb\n[ble]\nenabled = no\n")
    env = {"TRUCK_POS_CONFIG": str(path), "TRUCK_POS_PRINTER_PAPER_MM": "58", "TRUCK_POS_BLE_ENABLED": "on",
           "TRUCK_POS_MQTT_PORT": "0x22B3"}
    settings = load_settings(env=env)
    assert settings.config_file == str(path)
    assert (settings.printer.paper_mm, settings.printer.kind) == (58, "usb")
    assert settings.ble.enabled is True
    assert settings.mqtt.port == 8883


@pytest.mark.parametrize(("text", "env", "named"), [
    ("[printer]\npaper_mm = wide\n", {}, "[printer] paper_mm"),
    ("[ble]\nenabled = maybe\n", {}, "[ble] enabled"),
    ("[scanner]\nrepeat_window_s = 3s\n", {}, "[scanner] repeat_window_s"),
    ("", {"TRUCK_POS_MQTT_PORT": "eighty"}, "TRUCK_POS_MQTT_PORT"),
    ("[printer]\npaper_mm = 76\n", {}, "[printer] paper_mm"),
    ("[printer]\nkind = bluetooth\n", {}, "[printer] kind"),
    ("[truck]\ntimezone = Mars/Olympus\n", {}, "[truck] timezone"),
    ("[truck]\ntax_mode = sometimes\n", {}, "[truck] tax_mode"),
])
def test_bad_value_is_refused_with_the_key_named(tmp_path: Path, text: str, env: dict, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, text), env=env)
    assert named in str(err.value)


def test_unknown_key_is_refused_with_its_name_and_the_known_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, "[printer]\npaper_width = 80\n"), env={})
    assert "paper_width" in str(err.value) and "paper_mm" in str(err.value)


def test_unknown_section_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="printr"):
        load_settings(_write(tmp_path, "[printr]\nkind = usb\n"), env={})


def test_missing_config_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nowhere.ini"):
        load_settings(env={"TRUCK_POS_CONFIG": str(tmp_path / "nowhere.ini")})
