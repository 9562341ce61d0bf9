"""``openstack flow list|show|validate|graph`` and ``openstack job list|show|submit|resume|revert|cancel|signal``.

Commands return columns and rows; cliff's formatters render them, so ``-f json -c id`` works
as for every ``openstack`` command.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, cast

from osc_lib import exceptions
from osc_lib.command import command

from opsflow.api.remote import Client

__all__ = ["CancelJob", "GraphFlow", "ListFlow", "ListJob", "ResumeJob", "RevertJob", "ShowFlow", "ShowJob",
           "SignalJob", "SubmitJob", "ValidateFlow"]

JOB_COLUMNS = ("id", "name", "state", "project_id", "tasks_done", "tasks_total", "claimed_by", "submitted")


def _client(cmd: command.Command) -> Client:
    return cast(Client, getattr(cmd.app.client_manager, "opsflow"))  # set by the plugin loader at run time


def _row(item: dict[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(item.get(c) for c in columns)


def _one(item: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    names = tuple(item)
    return names, tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in item.values())


class ListFlow(command.Lister):
    """List the built-in flow definitions."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        columns = ("name", "tasks", "on_failure", "description")
        return columns, [_row(f, columns) for f in _client(self).flows()]


class ShowFlow(command.ShowOne):
    """Show a built-in flow definition."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<flow>", help="Name of a built-in flow")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        flow = _client(self).flow(parsed_args.name)
        flow.pop("text", None)
        return _one(flow)


class ValidateFlow(command.ShowOne):
    """Validate a flow definition file with the server's loader (exit 1 if it is invalid)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", metavar="<file>", help="The YAML definition")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        with open(parsed_args.file, encoding="utf-8") as handle:
            text = handle.read()
        reply = _client(self).validate(text)
        if not reply["valid"]:
            raise exceptions.CommandError(reply["error"]["message"].replace("<upload>", parsed_args.file, 1))
        return _one({"valid": True, **reply["flow"]})


class GraphFlow(command.Lister):
    """Draw a built-in flow as rows: each task, what it does, and the tasks it waits for."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<flow>", help="Name of a built-in flow")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        columns = ("name", "what", "after")
        return columns, [(t["name"], t["what"], ", ".join(t["after"])) for t in _client(self).graph(parsed_args.name)]


class ListJob(command.Lister):
    """List jobs on the board (your project's; --all-projects for an admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--state", metavar="<state>", help="Only jobs in this state")
        parser.add_argument("--name", metavar="<flow>", help="Only jobs of this flow")
        parser.add_argument("--all-projects", action="store_true", help="Jobs of every project (admin)")
        parser.add_argument("--project", metavar="<project-id>", help="Jobs of this project (admin)")
        parser.add_argument("--limit", type=int, metavar="<n>", help="Page size asked of the server")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        found = _client(self).jobs(state=parsed_args.state, name=parsed_args.name, project_id=parsed_args.project,
                                   all_projects="true" if parsed_args.all_projects else None, limit=parsed_args.limit)
        return JOB_COLUMNS, [_row(j, JOB_COLUMNS) for j in found]


class ShowJob(command.ShowOne):
    """Show a job: state, progress, and each task's state and timing."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("job", metavar="<job>", help="Job id (or a unique prefix)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return _one(_client(self).job(parsed_args.job))


class SubmitJob(command.ShowOne):
    """Submit a job: a built-in flow by name, or a definition file."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("flow", metavar="<flow-or-file>", help="A built-in flow's name, or a YAML file")
        parser.add_argument("--input", "-i", action="append", default=[], metavar="<name=value>",
                            help="An input (repeatable); the value is read as JSON when it parses as JSON")
        parser.add_argument("--on-failure", choices=("revert", "pause"), help="Override the flow's on_failure")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        inputs: dict[str, Any] = {}
        for pair in parsed_args.input:
            name, sep, value = pair.partition("=")
            if not sep:
                raise exceptions.CommandError(f"--input {pair!r}: write it as name=value")
            try:
                inputs[name] = json.loads(value)
            except ValueError:
                inputs[name] = value
        body: dict[str, Any] = {"inputs": inputs}
        if parsed_args.flow.endswith((".yaml", ".yml")):
            with open(parsed_args.flow, encoding="utf-8") as handle:
                body["definition"] = handle.read()
        else:
            body["flow"] = parsed_args.flow
        if parsed_args.on_failure:
            body["on_failure"] = parsed_args.on_failure
        return _one(_client(self).submit(body))


class _Act(command.ShowOne):
    action = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("job", metavar="<job>", help="Job id (or a unique prefix)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return _one(_client(self).act(parsed_args.job, self.action))


class ResumeJob(_Act):
    """Let conductors continue a paused or failed job."""

    action = "resume"


class RevertJob(_Act):
    """Ask conductors to undo every completed task of a job."""

    action = "revert"


class CancelJob(_Act):
    """Take a job off the board, undoing nothing."""

    action = "cancel"


class SignalJob(_Act):
    """Deliver a signal to a job (ends a core.wait waiting for it, such as an owner's keep)."""

    action = "signal"

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("signal", metavar="<signal>", help="The signal's name, as the flow's wait expects it")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return _one(_client(self).act(parsed_args.job, self.action, {"name": parsed_args.signal}))
