"""``opsflow totp ...`` and ``opsflow keys ...``: shortcuts that run the built-in auth flows.

Each lifecycle operation is a flow in ``opsflow/definitions`` (copy one and change a step); these
commands fill in its inputs, run it here with its state in ``--state``, and show the secrets the
flow wrote to owner-only files exactly once, deleting the files after. Read-only commands
(``keys list``/``show``) ask Keystone directly.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from opsflow import cli_options, output
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.errors import OpsflowError
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR

__all__ = ["COMMANDS"]

_cloud_option = click.option("--os-cloud", "cloud", default=lambda: os.environ.get("OS_CLOUD", ""),
                             show_default="$OS_CLOUD", help="clouds.yaml entry to act as.")


_state_option = cli_options.state_option("State backend URL of the runs.")
_format_options = cli_options.format_options


def _run(state_url: str, flow: str, inputs: dict[str, Any]) -> RunRecord:
    definition = loader.load_file(os.path.join(BUILTIN_DIR, f"{flow}.yaml"))
    with Runner(state_url) as runner:
        return runner.run(definition, inputs, hold_waits=False)


def _result(record: RunRecord, task: str) -> Any:
    return next((t.result for t in record.tasks if t.path == task), None)


def _check(record: RunRecord, allowed: Sequence[RunState] = (RunState.SUCCEEDED,)) -> None:
    if record.state in allowed:
        return
    errors = [f"{t.path}: {t.error}" for t in record.steps if t.error]
    raise OpsflowError(f"run {record.run_id} {record.state.value}" + (f" ({'; '.join(errors)})" if errors else ""))


def _private_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="opsflow-auth-"))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="seconds")


# -- totp ------------------------------------------------------------------------------------

@click.group()
def totp() -> None:
    """TOTP second factor: enroll, disable, reset."""


@totp.command("enroll")
@click.option("--user", default="", help="User name or id (default: the cloud's own user; needs admin).")
@click.option("--qr-dir", type=click.Path(file_okay=False), help="Keep the QR code's PNG and SVG here.")
@click.option("--code", help="The first code (asked for when not given).")
@click.option("--issuer", default="OpenStack", show_default=True, help="Name authenticator apps show.")
@_cloud_option
@_state_option
def totp_enroll(user: str, qr_dir: str | None, code: str | None, issuer: str, cloud: str, state_url: str) -> None:
    """Enroll a TOTP device: scan the QR code, answer with a code, keep the recovery codes."""
    work = _private_dir()
    try:
        inputs = {"cloud": cloud, "user": user, "qr_dir": qr_dir or str(work), "issuer": issuer,
                  "passcode_file": str(work / "code"), "recovery_file": str(work / "recovery")}
        record = _run(state_url, "totp-enroll", inputs)
        _check(record, (RunState.WAITING,))
        begun = _result(record, "begin")
        click.echo(Path(begun["qr_text"]).read_text())
        click.echo(f"Scan the code with your authenticator app (PNG: {begun['qr_png']}, SVG: {begun['qr_svg']}).")
        code = code or click.prompt("Code shown by the app")
        fd = os.open(inputs["passcode_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(code)
        with Runner(state_url) as runner:
            runner.signal(record.run_id, "confirmed")
            record = runner.resume(record.run_id, hold_waits=False)
        _check(record)
        click.echo(f"TOTP enabled for user {begun['user_id']}. Recovery codes (each works once; shown only now):")
        click.echo(Path(inputs["recovery_file"]).read_text(), nl=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _disable(user: str, cloud: str, state_url: str) -> None:
    record = _run(state_url, "totp-disable", {"cloud": cloud, "user": user})
    _check(record)
    done = _result(record, "disable")
    click.echo(f"TOTP disabled for user {done['user_id']} ({done['devices']} device(s) removed)")


@totp.command("disable")
@click.option("--user", default="", help="User name or id (default: the cloud's own user).")
@_cloud_option
@_state_option
def totp_disable(user: str, cloud: str, state_url: str) -> None:
    """Turn the second factor off (password alone works again)."""
    _disable(user, cloud, state_url)


@totp.command("reset")
@click.option("--user", required=True, help="User name or id.")
@_cloud_option
@_state_option
def totp_reset(user: str, cloud: str, state_url: str) -> None:
    """Admin: remove a user's device (lost phone) so they can enroll again."""
    _disable(user, cloud, state_url)


# -- keys ------------------------------------------------------------------------------------

@click.group()
def keys() -> None:
    """Access keys (AWS-style, for S3 clients and SigV4-signed OpenStack API calls)."""


def _run_showing_key(state_url: str, flow: str, inputs: dict[str, Any],
                     allowed: Sequence[RunState] = (RunState.SUCCEEDED,)) -> RunRecord:
    """Run a flow whose ``create`` task makes a key, its secret in a private file; show the key once."""
    work = _private_dir()
    try:
        secret = work / "secret"
        record = _run(state_url, flow, {**inputs, "secret_file": str(secret)})
        _check(record, allowed)
        made = _result(record, "create")
        click.echo(f"access key:  {made['access']}")
        click.echo(f"secret:      {secret.read_text().strip()}   (shown only now)")
        click.echo(f"project:     {made['project_id']}")
        click.echo(f"expires:     {_when(made['expires_at'])}")
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)


@keys.command("create")
@click.option("--expires", default="90d", show_default=True, help="Duration (90d, 12h, 2w), date, or never.")
@click.option("--project", default="", help="Project name or id (default: the cloud's project).")
@click.option("--description", default="")
@_cloud_option
@_state_option
def keys_create(expires: str, project: str, description: str, cloud: str, state_url: str) -> None:
    """Create an access key for yourself; the secret is shown once."""
    _run_showing_key(state_url, "keys-create", {"cloud": cloud, "expires": expires, "project": project,
                                                "description": description})


def _listing(cloud: str) -> list[dict[str, Any]]:
    from opsflow.identity.keystone_api import Keystone
    from opsflow.plugins.keystone.access_keys import EC2_TYPE, AccessKey

    ks = Keystone(cloud)
    rows = []
    for cred in ks.credentials(EC2_TYPE, ks.current_user()):
        key = AccessKey.from_credential(cred)
        extra = json.loads(cred["blob"]) if isinstance(cred["blob"], str) else dict(cred["blob"])
        rows.append({"access": key.access, "status": key.status.value, "project": key.project_id,
                     "expires": _when(key.expires_at), "created": _when(key.created_at),
                     "last used": _when(extra["last_used_at"]) if extra.get("last_used_at") else "",
                     "last used from": extra.get("last_used_from", ""), "description": key.description})
    return rows


@keys.command("list")
@_format_options
@_cloud_option
def keys_list(fmt: str, columns: Sequence[str], cloud: str) -> None:
    """Your access keys: status, expiry, last use (never the secrets)."""
    rows = _listing(cloud)
    names = ["access", "status", "project", "expires", "created", "last used", "last used from", "description"]
    click.echo(output.render_many(names, [[r[n] for n in names] for r in rows], fmt, columns))


@keys.command("show")
@click.argument("access")
@_format_options
@_cloud_option
def keys_show(access: str, fmt: str, columns: Sequence[str], cloud: str) -> None:
    """One access key."""
    found = next((r for r in _listing(cloud) if r["access"] == access), None)
    if found is None:
        raise OpsflowError(f"no access key {access!r} of yours; `opsflow keys list` shows them")
    click.echo(output.render_one(found, fmt, columns))


@keys.command("revoke")
@click.argument("access")
@_cloud_option
@_state_option
def keys_revoke(access: str, cloud: str, state_url: str) -> None:
    """Revoke a key at once (refused everywhere within the filters' cache time)."""
    _check(_run(state_url, "keys-revoke", {"cloud": cloud, "access": access}))
    click.echo(f"access key {access} revoked")


@keys.command("rotate")
@click.argument("access")
@click.option("--grace", "grace_seconds", type=float, default=7 * 86400.0, show_default=True,
              help="Seconds both keys work before the old one is deactivated and deleted.")
@click.option("--expires", default="90d", show_default=True, help="The new key's expiry.")
@click.option("--mail-server", metavar="HOST[:PORT]",
              help="Mail the notice to the key's owner (their e-mail in Keystone) through this SMTP server; "
                   "without it the notice goes to the log.")
@_cloud_option
@_state_option
def keys_rotate(access: str, grace_seconds: float, expires: str, mail_server: str | None, cloud: str,
                state_url: str) -> None:
    """Replace a key: the new one now, the old one retired after the grace period."""
    notify: list[dict[str, Any]] = [{"log": {}}]
    if mail_server:
        host, _, port = mail_server.partition(":")
        if port and not port.isdigit():
            raise click.BadParameter(f"{mail_server!r}: give HOST or HOST:PORT", param_hint="--mail-server")
        notify = [{"email": {"host": host, "port": int(port or 25)}}]
    record = _run_showing_key(state_url, "keys-rotate", {"cloud": cloud, "access": access, "expires": expires,
                                                         "grace_seconds": grace_seconds, "notify": notify},
                              (RunState.WAITING, RunState.SUCCEEDED))
    if record.state is RunState.WAITING:
        click.echo(f"run {record.run_id} waits for the grace period; `opsflow resume {record.run_id}` (or a "
                   f"conductor) finishes it when due, `opsflow signal {record.run_id} rotated` at once", err=True)


@keys.command("sweep")
@_cloud_option
@_state_option
def keys_sweep(cloud: str, state_url: str) -> None:
    """Admin: mark every key past its expiry date as expired."""
    record = _run(state_url, "keys-sweep", {"cloud": cloud})
    _check(record)
    expired = _result(record, "expire") or []
    click.echo(f"{len(expired)} access key(s) expired" + (": " + ", ".join(expired) if expired else ""))


#: Command groups for ``opsflow`` (added by :mod:`opsflow.cli`).
COMMANDS = (totp, keys)
