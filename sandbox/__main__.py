"""python -m sandbox [flags] — run the local Dumont Cloud sandbox (see sandbox/README.md)."""
from .config import load_config


def _main() -> None:
    cfg = load_config()          # bad flags fail here, before the heavy imports
    from .server import run
    run(cfg)


if __name__ == "__main__":
    _main()
