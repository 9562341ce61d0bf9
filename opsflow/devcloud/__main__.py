"""``python -m opsflow.devcloud``: the devcloud command without the opsflow CLI."""

from opsflow.devcloud.cli import devcloud

devcloud(prog_name="opsflow devcloud")
