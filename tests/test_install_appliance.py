"""scripts/install-appliance into a staging root: idempotent, merges system files, tells what it changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install-appliance"
NOTHING = "Nothing changed"

STOCK_MAIN_CONF = """\
[General]
# Enables D-Bus experimental interfaces
# Possible values: true or false
#Experimental = false
Name = truck

[Policy]
#AutoEnable=true
ReconnectAttempts=7
"""
STOCK_CONFIG_TXT = """\
# For more options and information see http://rptl.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
arm_boost=1

[cm4]
otg_mode=1

[all]
"""
STOCK_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n"


def run(root: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *extra],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every path under root with its mode, mtime and bytes."""
    return {str(p.relative_to(root)): (p.stat().st_mode, p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(root.rglob("*"))}


def test_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    first = run(tmp_path)
    assert "changed: create /etc/systemd/system/truck-pos.service" in first
    assert "changed: create /etc/udev/rules.d/" in first or not (SCRIPT.parent.parent / "firmware_config/udev").is_dir()
    assert NOTHING not in first
    before = snapshot(tmp_path)
    second = run(tmp_path)
    assert NOTHING in second and "  changed: " not in second
    assert snapshot(tmp_path) == before


def test_system_steps_are_listed_not_run_under_root(tmp_path: Path) -> None:
    out = run(tmp_path)
    for step in ("apt-get install", "useradd --system", "pip install", "systemctl enable truck-pos.service"):
        assert "skipped: " in out and step in out, step
    assert not (tmp_path / "opt/truck_pos/venv").exists()
    assert (tmp_path / "opt/truck_pos/libexec/kiosk-session").stat().st_mode & 0o777 == 0o755


def test_dry_run_lists_changes_and_writes_nothing(tmp_path: Path) -> None:
    out = run(tmp_path, "--dry-run")
    assert "would create /etc/systemd/system/truck-pos-sync.service" in out
    assert "change(s) would be made" in out
    assert list(tmp_path.iterdir()) == []


def test_stock_system_files_are_merged_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "etc/bluetooth").mkdir(parents=True)
    (tmp_path / "etc/bluetooth/main.conf").write_text(STOCK_MAIN_CONF)
    (tmp_path / "etc/X11").mkdir(parents=True)
    (tmp_path / "etc/X11/Xwrapper.config").write_text("# Xwrapper.config (see Xorg.wrap(1))\nallowed_users=console\n")
    (tmp_path / "boot/firmware").mkdir(parents=True)
    (tmp_path / "boot/firmware/config.txt").write_text(STOCK_CONFIG_TXT)
    (tmp_path / "boot/firmware/cmdline.txt").write_text(STOCK_CMDLINE)
    (tmp_path / "etc/truck_pos").mkdir(parents=True)
    (tmp_path / "etc/truck_pos/truck.ini").write_text("[truck]\nid = truck-07\n")

    out = run(tmp_path)
    assert "changed: update /etc/bluetooth/main.conf" in out
    main_conf = (tmp_path / "etc/bluetooth/main.conf").read_text()
    assert "Experimental = true" in main_conf and "#Experimental = false" not in main_conf
    assert "AutoEnable = true" in main_conf and "ReconnectAttempts=7" in main_conf and "Name = truck" in main_conf
    assert main_conf.index("Experimental = true") < main_conf.index("[Policy]") < main_conf.index("AutoEnable = true")
    assert "[LE]\nScanIntervalAdvMonitor = 0x0060" in main_conf
    xwrapper = (tmp_path / "etc/X11/Xwrapper.config").read_text()
    assert "allowed_users=anybody" in xwrapper and "allowed_users=console" not in xwrapper
    config_txt = (tmp_path / "boot/firmware/config.txt").read_text()
    assert config_txt.startswith(STOCK_CONFIG_TXT) and "dtoverlay=vc4-kms-dsi-7inch" in config_txt
    cmdline = (tmp_path / "boot/firmware/cmdline.txt").read_text()
    assert cmdline == STOCK_CMDLINE.rstrip("\n") + " consoleblank=0\n"
    assert (tmp_path / "etc/truck_pos/truck.ini").read_text() == "[truck]\nid = truck-07\n", "the owner's config is kept"
    assert "reboot" in out

    before = snapshot(tmp_path)
    assert NOTHING in run(tmp_path)
    assert snapshot(tmp_path) == before


def test_an_older_boot_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    (tmp_path / "boot/firmware").mkdir(parents=True)
    config = tmp_path / "boot/firmware/config.txt"
    config.write_text(STOCK_CONFIG_TXT)
    run(tmp_path)
    current = config.read_text()
    begin = current.index("# BEGIN truck_pos")
    config.write_text(current[:begin] + current[begin:].replace("disable_splash=1", "disable_splash=0") + "gpio=4=op\n")
    out = run(tmp_path)
    assert "changed: update /boot/firmware/config.txt" in out
    assert config.read_text() == current + "gpio=4=op\n"


def test_changed_unit_file_is_put_back(tmp_path: Path) -> None:
    run(tmp_path)
    unit = tmp_path / "etc/systemd/system/truck-pos.service"
    good = unit.read_bytes()
    unit.write_text("[Service]\nExecStart=/bin/false\n")
    out = run(tmp_path)
    assert "changed: update /etc/systemd/system/truck-pos.service" in out and "1 change(s) made" in out
    assert unit.read_bytes() == good


def test_a_provisioned_bundle_is_installed_privately_and_only_once(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from truck_pos.cli.provision import ProvisionRequest, provision

    public = tmp_path / "campaign_public.pem"
    public.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    done = provision(ProvisionRequest(out_dir=tmp_path / "owner", campaign_public_key=public, truck_id="truck-07",
                                      passwd_file=tmp_path / "owner/passwd", acl_file=tmp_path / "owner/acl"))
    root = tmp_path / "root"
    (root / "etc/truck_pos").mkdir(parents=True)
    (root / "etc/truck_pos/truck.ini").write_text("[printer]\nkind = usb\n")  # edited on the truck before
    out = run(root, "--bundle", str(done.bundle))
    assert (root / "etc/truck_pos/truck.ini.old").read_text() == "[printer]\nkind = usb\n"
    etc = root / "etc/truck_pos"
    modes = {name: (etc / name).stat().st_mode & 0o777 for name in ("truck.ini", "mqtt-password", "claim.key", "campaign_public.pem")}
    assert modes == {"truck.ini": 0o640, "mqtt-password": 0o600, "claim.key": 0o600, "campaign_public.pem": 0o644}
    for name in modes:
        assert (etc / name).read_bytes() == (done.bundle / name).read_bytes()
    assert "chown truckpos:truckpos /etc/truck_pos/claim.key" in out
    for secret in ((done.bundle / "mqtt-password").read_text().strip(), (done.bundle / "claim.key").read_bytes().hex()):
        assert secret not in out
    before = snapshot(root)
    assert NOTHING in run(root, "--bundle", str(done.bundle))
    assert snapshot(root) == before
