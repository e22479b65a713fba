"""What each `reducio` subcommand does once its arguments are parsed: `run(args) -> exit code`."""
