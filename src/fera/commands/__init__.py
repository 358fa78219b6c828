"""The command line, apart from the library: one small module per `fera` command, in the order `fera -h` lists
them. Each has ``run(args)`` (it does the command; the first line of its docstring is the one-line help, the
whole docstring the description), ``add_arguments(parser)`` (its options, bound to the settings dataclasses of
the library by ``fera.commands.args.add_option``), ``EXAMPLES`` and, where it needs one, ``epilog()``. The
library modules (``fera.runtime``, ``fera.training``, ``fera.datasets``, ``fera.web``, ``fera.analyze``) take
settings and arguments, never an argparse namespace; ``fera.cli`` builds the parser from these modules."""

COMMANDS = ("assist", "analyze", "serve", "web", "explain", "models", "data", "train", "evaluate", "calibrate",
            "export", "report")
