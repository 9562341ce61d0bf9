"""The flows the child-run tests share: a parent fanning out over a task's result into ``leaf`` runs."""

from pathlib import Path

from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition


def batch(concurrency: int = 2, on_item_failure: str = "continue", then: str = "") -> str:
    """A parent whose ``plan`` echoes ``${inputs.items}`` and whose ``each`` runs ``leaf`` per item."""
    return f"""
name: batch
inputs: {{items: {{type: list}}}}
tasks:
  - {{name: plan, action: core.echo, args: {{message: "${{inputs.items}}"}}}}
  - name: each
    for_each: ${{tasks.plan}}
    flow: leaf
    concurrency: {concurrency}
    on_item_failure: {on_item_failure}
    args: {{n: "${{item}}"}}
{then}"""


def write(directory: Path, leaf: str, parent: str) -> FlowDefinition:
    """Write ``leaf.yaml`` and ``batch.yaml`` into ``directory``; the loaded parent."""
    (directory / "leaf.yaml").write_text(leaf)
    (directory / "batch.yaml").write_text(parent)
    return loader.load_file(str(directory / "batch.yaml"))
