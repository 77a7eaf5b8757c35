"""The command line's parsers, one module per command group. They import no services: each
command's handler is named with ``app.cli.options.lazy`` and imported when it runs."""
