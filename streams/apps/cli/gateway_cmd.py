"""`ivigwatch gateway`: run the device and app gateway; `gateway issue|list|revoke`: its credentials."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import typer
from aiokafka.errors import KafkaConnectionError

from models.credentials import CredentialKind
from streams.apps.cli.stop_signal import stop_on_signal
from streams.apps.cli.unreachable import kafka_unreachable
from streams.infra.credential_store import CredentialFileError, CredentialStore, credential_path
from streams.infra.settings import Settings, get_settings

app = typer.Typer(
    help="The device and app gateway: home devices and the patient's app post events over HTTP.",
    no_args_is_help=False,
    invoke_without_command=True,
)


def _store() -> CredentialStore:
    return CredentialStore(credential_path(get_settings().state_dir))


@app.callback()
def gateway(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Interface to bind (default IVIGWATCH_GATEWAY_HOST)"),
    port: int | None = typer.Option(None, help="Port (default IVIGWATCH_GATEWAY_PORT; 0 = any free port)"),
) -> None:
    """Run the gateway in the foreground and print its URL (Ctrl-C to stop)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(_serve(settings, host, port))
    except KafkaConnectionError:
        typer.echo(kafka_unreachable(settings.bootstrap), err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"cannot serve the gateway on {host or settings.gateway_host}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from streams.apps.gateway.gateway_app import running_gateway

    stop = stop_on_signal()
    async with running_gateway(settings, host, port) as url:
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        typer.echo(f"Gateway on {url}/v1/events (to {settings.bootstrap}; Ctrl-C to stop)")
        await stop.wait()
    typer.echo("gateway stopped")


@app.command("issue")
def issue_command(
    patient: str = typer.Option(..., "--patient", help="The patient's pseudonymous id"),
    kind: CredentialKind = typer.Option(..., "--kind", help="device (vitals), pump (infusion) or app"),  # noqa: B008
    label: str = typer.Option("", "--label", help="What it is, for the list (no patient data)"),
) -> None:
    """Issue a credential bound to one patient; its token is printed once (give it to the device)."""
    try:
        credential, token = _store().issue(patient, kind, label, datetime.now(UTC))
    except (CredentialFileError, ValueError) as exc:
        typer.echo(f"cannot issue: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"credential {credential.credential_id} ({kind.value}) for {patient}", err=True)
    typer.echo(token)


@app.command("list")
def list_command(patient: str | None = typer.Option(None, "--patient", help="Only this patient's")) -> None:
    """List credentials (id, patient, kind, label, issued, revoked); never a secret."""
    try:
        credentials = _store().load()
    except CredentialFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for c in credentials.values():
        if patient is None or c.patient_id == patient:
            revoked = c.revoked_at.isoformat() if c.revoked_at else "-"
            typer.echo(
                f"{c.credential_id}\t{c.patient_id}\t{c.kind.value}\t{c.label}\t{c.issued_at.isoformat()}\t{revoked}"
            )


@app.command("revoke")
def revoke_command(
    credential_id: str = typer.Argument(..., help="The credential's id (from `list`)"),
) -> None:
    """Revoke a credential: the gateway refuses its token from the next request on."""
    try:
        revoked = _store().revoke(credential_id, datetime.now(UTC))
    except CredentialFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if revoked is None:
        typer.echo(f"no credential {credential_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"credential {credential_id} revoked")
