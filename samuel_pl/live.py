"""`python -m samuel_pl.live`: same as `samuel live`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("live")
