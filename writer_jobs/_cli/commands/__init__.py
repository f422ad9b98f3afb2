"""The commands, a module per family: each has ``register(subparsers)``, which adds its
parsers with their handler (``run(args, output) -> exit code``) as a default."""
