"""CLI subcommands, one module each, loaded only when invoked."""
