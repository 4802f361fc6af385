"""Child process for the power-cut tests: rings up orders forever, printing each one reported paid.

Usage: powercut_child.py DB_PATH [full|normal|off] -- the synchronous mode is the product's (FULL) unless
a test asks for a weaker one to show that the test can tell the difference.
"""

import sys

from truck_pos.bootstrap import build
from truck_pos.config import load_settings

MODES = {"off": 0, "normal": 1, "full": 2}


def main(db_path: str, mode: str = "full") -> None:
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": db_path}))
    if mode != "full":
        services.db.execute_sql(f"PRAGMA synchronous={MODES[mode]}")
    actual = services.db.execute_sql("PRAGMA synchronous").fetchone()[0]
    sys.stdout.write(f"SYNC {actual}\n")
    skus = ["taco-al-pastor", "bowl-burrito", "side-chips", "drink-horchata", "drink-water"]
    n = 0
    while True:
        ticket = services.register.open_ticket()
        for i in range(1 + n % 5):
            ticket = services.register.add_item(ticket.id, skus[(n + i) % len(skus)], 1 + i % 2)
        if n % 3 == 0:
            services.register.add_tender(ticket.id, "card", 100)
        paid = services.register.pay_cash(ticket.id, 100_000)
        # Only now may anyone be told "paid".
        sys.stdout.write(f"PAID {paid.order_uuid}\n")
        sys.stdout.flush()
        n += 1


if __name__ == "__main__":
    main(*sys.argv[1:])
