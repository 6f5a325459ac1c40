"""`python -m samuel_pl.generate`: same as `samuel generate`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("generate")
