"""A picture for a person: raw vs smoothed RSSI and zones for a stopper and a passer-by (test-output/)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from ble_trace_helpers import devices, trace, truth  # noqa: E402

from truck_pos.domain.proximity import ProximityFilter  # noqa: E402
from truck_pos.domain.tokens import SERVICE_UUID, TokenTable, parse_service_data  # noqa: E402


def series(name: str, device_id: str):
    t = truth(name)
    tokens = TokenTable([(d["device_id"], bytes.fromhex(d["secret"])) for d in devices()], slot_s=t["slot_s"])
    f = ProximityFilter()
    out = {"t": [], "raw": [], "smooth": [], "zone": [], "arrival": None}
    for row in trace(name):
        now = t["start_unix"] + row.t_s
        sd = parse_service_data(row.service_data) if row.service_uuid == SERVICE_UUID else None
        if sd is None or tokens.resolve(sd.token, now) != device_id:
            continue
        a = f.observe(device_id, row.t_s, row.rssi_dbm, sd.measured_power_dbm)
        out["arrival"] = out["arrival"] or (a and a.t_s)
        out["t"].append(row.t_s)
        out["raw"].append(row.rssi_dbm)
        out["smooth"].append(f._tracks[device_id].rssi)
        out["zone"].append(f.zone_of(device_id))
    return out


def test_filter_chart_for_a_stopper_and_a_passer_by(output_dir):
    fig, axes = plt.subplots(2, 1, figsize=(10, 7))
    for ax, (name, kind) in zip(axes, [("stoppers", "stopper"), ("edge_walkers", "edge_walker")]):
        person = next(p for p in truth(name)["people"] if p["kind"] == kind)
        s = series(name, person["device_id"])
        assert s["t"], "no reports for the chosen person"
        ax.plot(s["t"], s["raw"], ".", ms=3, alpha=0.5, label="raw RSSI")
        ax.plot(s["t"], s["smooth"], "-", label="smoothed (time-aware EMA)")
        ax2 = ax.twinx()
        ax2.step(s["t"], s["zone"], "g", where="post", alpha=0.4, label="zone")
        ax2.set_yticks([0, 1, 2], ["gone", "near", "window"])
        if person.get("enter_range_t") is not None:
            ax.axvline(person["enter_range_t"], color="k", ls=":", label="entered range (truth)")
        if s["arrival"]:
            ax.axvline(s["arrival"], color="r", ls="--", label="event")
        ax.set_title(f"{name}: {person['device_id']} ({kind})")
        ax.set_ylabel("dBm")
        ax.legend(loc="lower left", fontsize=8)
    axes[-1].set_xlabel("trace time, s")
    fig.tight_layout()
    path = output_dir / "ble_filter_traces.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    assert path.stat().st_size > 10_000
