"""`warroom mcp`: serve warroom's read-only records and sensors to MCP clients."""

from __future__ import annotations

import typer

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def mcp(
    transport: str = typer.Option(
        "stdio", help="stdio (an MCP client starts `warroom mcp`) or http (streamable HTTP)"),
    host: str = typer.Option("127.0.0.1", help="http only: a loopback address"),
    port: int = typer.Option(8765, min=1, max=65535, help="http only"),
) -> None:
    """Serve incidents, evidence, debates, past analyses, the audit trail and the live sensors
    over MCP, read-only."""
    if transport not in ("stdio", "http"):
        raise typer.BadParameter(f"{transport!r}: use stdio or http", param_hint="--transport")
    if host not in LOOPBACK:
        # the MCP endpoint has no authentication of its own: never offer it beyond this machine
        raise typer.BadParameter(f"{host!r} is not a loopback address; use 127.0.0.1 or ::1",
                                 param_hint="--host")
    import anyio

    from warroom.config import get_settings
    from warroom.mcp.live import LiveSensors
    from warroom.mcp.server import build_server
    from warroom.store.db import make_engine, make_sessionmaker

    settings = get_settings()

    async def serve() -> None:
        engine = make_engine(settings.effective_database_url)
        try:
            server = build_server(make_sessionmaker(engine), LiveSensors.from_settings(settings))
            if transport == "stdio":
                await server.run_stdio_async()
            else:
                typer.echo(f"warroom MCP on http://{host}:{port}/mcp", err=True)
                await server.run_streamable_http_async(host=host, port=port)
        finally:
            await engine.dispose()

    anyio.run(serve)


def register(app: typer.Typer) -> None:
    """Add the `mcp` command to the warroom command."""
    app.command("mcp")(mcp)
