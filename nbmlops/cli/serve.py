"""`nbmlops serve TARGET` (the HTTP server) and `nbmlops predict TARGET --input ... --output ...` (batch scoring).

TARGET is a model URI (churn@production, churn:3) or a graph (module:name, file.py:name). Imports stay lazy:
`nbmlops serve --help` loads neither uvicorn nor the model libraries.
"""

from __future__ import annotations

import click


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes (embedded engine).")
@click.option(
    "--token",
    default=None,
    envvar="NBMLOPS_SERVE_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every route but /health (or NBMLOPS_SERVE_TOKEN).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: Starlette on uvicorn in this process; ray: Ray Serve deployments.",
)
@click.option("--ray-address", default=None, help="Ray cluster to deploy on (--engine ray; default: a local Ray).")
@click.option(
    "--replicas", default="1", show_default=True, help="Ray Serve replicas: a number or 'auto' (--engine ray)."
)
@click.option(
    "--max-pending",
    default=64,
    show_default=True,
    type=int,
    help="Requests queued or running before the server answers 503 with Retry-After.",
)
@click.option(
    "--max-body",
    "max_body_bytes",
    default=16 * 1024 * 1024,
    show_default=True,
    type=int,
    help="Largest request body in bytes (413 above).",
)
@click.option(
    "--poll",
    "poll_s",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between checks of the alias the model step follows.",
)
@click.option("--no-log", "no_log", is_flag=True, help="Don't log predictions for monitoring.")
def serve(
    target: str,
    host: str,
    port: int,
    workers: int,
    token: str | None,
    engine: str,
    ray_address: str | None,
    replicas: str,
    max_pending: int,
    max_body_bytes: int,
    poll_s: float,
    no_log: bool,
) -> None:
    """Serve a registered model or a serving graph over HTTP (/predict, /invocations, /health, /ready, /metrics)."""
    from nbmlops.serving.engines import engine as serving_engine

    values = {
        "token": token,
        "max_pending": max_pending,
        "max_body_bytes": max_body_bytes,
        "poll_s": poll_s,
        "log_predictions": not no_log,
    }
    if engine == "ray":
        values.update(ray_address=ray_address, replicas=replicas)
    else:
        values["workers"] = workers
        click.echo(f"nbmlops: serving {target} on http://{host}:{port} (Ctrl-C stops)", err=True)
    serving_engine(engine)(target, host=host, port=port, **values)


@click.command("predict", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True),
    help="A Parquet or CSV file, or a folder of them.",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where the scores go (.parquet or .csv).",
)
@click.option("--features", default=None, help="A saved FeatureVector: enrich the rows by their entity keys first.")
@click.option("--chunk-rows", default=10_000, show_default=True, type=int, help="Rows per chunk.")
@click.option("--no-log", "no_log", is_flag=True, help="Don't log the predictions for monitoring.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "local", "ray"]),
    default="auto",
    show_default=True,
    help="local: this process; ray: Ray Data actors; auto: Ray for 1,000,000 rows or more when a cluster is set.",
)
@click.option("--ray-address", default=None, help="Ray cluster for --engine ray (default: the configured one).")
def predict(
    target: str,
    input_path: str,
    output_path: str,
    features: str | None,
    chunk_rows: int,
    no_log: bool,
    engine: str,
    ray_address: str | None,
) -> None:
    """Score a file or folder through a model or serving graph, as a recorded run."""
    from nbmlops.serving import predict as score

    path = score(
        target,
        input_path,
        output_path,
        features=features,
        chunk_rows=chunk_rows,
        log=not no_log,
        engine=engine,
        ray_address=ray_address,
    )
    click.echo(f"nbmlops: scores written to {path}", err=True)
