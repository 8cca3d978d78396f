"""What runs in the user's kernel: the `%%step`/`%%setup`/`%%skip`/`%pipeline`/`%nbmlops` magics (`magics`),
the pre-flight checks of a notebook against the live kernel (`preflight`), and `%pipeline load`'s replay of a
past run's values (`replay`). Loaded by `%load_ext nbmlops`; imported by nothing else."""
