"""Command-line glue: one module per subcommand, dispatched by :mod:`samuel_pl.cli.main`."""
