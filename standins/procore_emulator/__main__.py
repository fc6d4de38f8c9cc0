"""Command line: `python -m standins.procore_emulator --port 8765 --db var/procore.db --fixture PATH [--reset]`."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from .app import create_app
from .emulator import Settings
from .ratelimit import Limits

ENV = "PROCORE_EMULATOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV + name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m standins.procore_emulator",
                                description="Local emulator of Procore's REST API (budget import subset).")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="bind address (keep it on loopback)")
    p.add_argument("--port", type=int, default=int(_env("PORT", "8765")))
    p.add_argument("--db", default=_env("DB", "var/procore.db"), help="SQLite state file (kept across restarts)")
    p.add_argument("--fixture", default=os.environ.get(ENV + "FIXTURE"),
                   help="seed JSON; used when the db is new, with --reset, and by POST /_emulator/reset")
    p.add_argument("--reset", action="store_true", help="re-seed the db from the fixture on start")
    p.add_argument("--token-ttl", type=int, default=int(_env("TOKEN_TTL", "5400")), help="token lifetime, seconds")
    p.add_argument("--hourly-limit", type=int, default=int(_env("HOURLY_LIMIT", "100000")))
    p.add_argument("--hourly-window", type=float, default=float(_env("HOURLY_WINDOW", "3600")))
    p.add_argument("--spike-limit", type=int, default=int(_env("SPIKE_LIMIT", "1000")))
    p.add_argument("--spike-window", type=float, default=float(_env("SPIKE_WINDOW", "10")))
    p.add_argument("--contract", choices=("check", "off"), default=_env("CONTRACT", "check"),
                   help="check every request and answer against Procore's spec (default) or not")
    p.add_argument("--log-level", default=_env("LOG_LEVEL", "warning"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.token_ttl <= 0:
        sys.exit("--token-ttl must be positive")
    try:
        limits = Limits.from_dict({"hourly_limit": args.hourly_limit, "hourly_window_seconds": args.hourly_window,
                                   "spike_limit": args.spike_limit, "spike_window_seconds": args.spike_window})
    except ValueError as exc:
        sys.exit(str(exc))
    settings = Settings(db_path=Path(args.db), fixture_path=Path(args.fixture) if args.fixture else None,
                        reset=args.reset, token_ttl=args.token_ttl, limits=limits,
                        contract=args.contract)
    app = create_app(settings)
    print(f"Procore emulator on http://{args.host}:{args.port} (db {args.db})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False,
                timeout_graceful_shutdown=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
