"""``dunning serve``: the HTTP API (events, cases, the work queue, webhooks, health, metrics) and the console."""

from __future__ import annotations

import threading

import click

from dunning.core.cli.app import App
from dunning.core.runtime import build_runtime, tracing


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--policy", "policy_path", type=click.Path(exists=True, dir_okay=False), help="Policy file.")
@click.option("--run", "with_runner", is_flag=True, help="Also run the scheduler and an in-process worker.")
@click.pass_obj
def serve(app: App, host: str, port: int, policy_path: str | None, with_runner: bool) -> None:
    """Serve the API with uvicorn; --run adds the embedded scheduler and worker."""
    import uvicorn

    from dunning.core.api import create_app

    tracing.start_tracing("api")
    rt = build_runtime(app.settings, policy_path=policy_path)
    broker_ping = None
    runner = None
    if app.settings.broker_url and app.settings.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(app.settings.broker_url)

        def broker_ping() -> bool:
            try:
                client.ping()
            except redis.RedisError as exc:
                rt.outages.failed("broker health check", exc)
                return False
            rt.outages.ok("broker health check")
            return True

    if with_runner:
        from dunning.core.runtime.embedded import Embedded

        runner = Embedded(rt)
        runner.start()
        threading.Thread(target=runner.run_forever, name="dunning-scheduler", daemon=True).start()
    if not app.settings.api_tokens:
        click.echo("warning: DUNNING_API_TOKENS is empty: every /v1 request will be refused", err=True)
    click.echo(
        f"console: http://{host}:{port}/console (users: dunning users add NAME --role agent)", err=True
    )
    try:
        uvicorn.run(create_app(rt, broker_ping=broker_ping), host=host, port=port, log_level="info")
    finally:
        if runner is not None:
            runner.stop()
        rt.close()
        tracing.stop_tracing()
