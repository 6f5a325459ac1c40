"""``python -m samuel_pl.data``: render the demo set or check a stem source."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("data")
