"""nbmlops: tagged Jupyter notebooks as tracked, parameterized ML pipelines."""

from nbmlops._version import __version__


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's extension hook
    """`%load_ext nbmlops`: the %%step, %%setup, %%skip and %pipeline magics."""
    from nbmlops.magics import register

    register(ipython)


__all__ = ["__version__", "load_ipython_extension"]
