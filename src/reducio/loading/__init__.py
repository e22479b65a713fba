"""Reading models from disk or the Hub: where they are, and reading them safely."""
