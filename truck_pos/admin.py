"""Console entry point for ``truck-pos-admin`` (see truck_pos.cli)."""

from truck_pos.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
