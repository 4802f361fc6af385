"""A picture for a person: raw RSSI, the detector's estimate and zones for an arrival and a passer-by (test-output/)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from ble_trace_helpers import cached_street, rows_of  # noqa: E402

from truck_pos.domain.proximity import ProximityFilter  # noqa: E402
from truck_pos.domain.tokens import SERVICE_UUID, TokenTable, parse_service_data  # noqa: E402


def series(s, device_id: str):
    tokens = TokenTable([(d["device_id"], bytes.fromhex(d["secret"])) for d in s.devices], slot_s=s.slot_s)
    f = ProximityFilter()
    out = {"t": [], "raw": [], "est": [], "zone": [], "arrival": None}
    for row in rows_of(s):
        sd = parse_service_data(row.service_data) if row.service_uuid == SERVICE_UUID else None
        if sd is None or tokens.resolve(sd.token, s.start_unix + row.t_s) != device_id:
            continue
        a = f.observe(device_id, row.t_s, row.rssi_dbm, sd.measured_power_dbm)
        out["arrival"] = out["arrival"] or (a and a.t_s)
        est = f.estimate_db(device_id)
        if est is None:
            continue
        out["t"].append(row.t_s)
        out["raw"].append(row.rssi_dbm)
        out["est"].append(f._tracks[device_id].p1m - est)
        out["zone"].append(f.zone_of(device_id))
    return out


def test_filter_chart_for_an_arrival_and_a_passer_by(output_dir):
    s = cached_street(11)
    fig, axes = plt.subplots(2, 1, figsize=(10, 7))
    for ax, kind in zip(axes, ["arrival", "passer_by"]):
        person = next(p for p in s.people if p["kind"] == kind and (kind != "passer_by" or p["closest_m"] < 15))
        ser = series(s, person["device_id"])
        assert ser["t"], "no reports for the chosen person"
        ax.plot(ser["t"], ser["raw"], ".", ms=3, alpha=0.5, label="raw RSSI")
        ax.plot(ser["t"], ser["est"], "-", label="detector estimate (median)")
        ax2 = ax.twinx()
        ax2.step(ser["t"], ser["zone"], "g", where="post", alpha=0.4, label="zone")
        ax2.set_yticks([0, 1, 2], ["gone", "near", "window"])
        if person.get("reach_3m_t") is not None:
            ax.axvline(person["reach_3m_t"], color="k", ls=":", label="reached 3 m (truth)")
        if ser["arrival"]:
            ax.axvline(ser["arrival"], color="r", ls="--", label="event")
        ax.set_title(f"street seed {s.seed}: {person['device_id']} ({kind})")
        ax.set_ylabel("dBm")
        ax.legend(loc="lower left", fontsize=8)
    axes[-1].set_xlabel("street time, s")
    fig.tight_layout()
    path = output_dir / "ble_filter_traces.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    assert path.stat().st_size > 10_000
