"""Hypothesis strategies for flow definitions, valid and broken."""

from typing import Any

import yaml
from hypothesis import strategies as st

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@st.composite
def valid_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A definition of echo tasks where each task may reference any earlier one (so always a DAG)."""
    task_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    tasks = []
    for index, name in enumerate(task_names):
        earlier = task_names[:index]
        refs = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        message = " ".join(f"${{tasks.{ref}}}" for ref in refs) or f"${{inputs.seed}} {name}"
        tasks.append({"name": name, "action": "core.echo", "args": {"message": message}})
    return {"name": "generated", "inputs": {"seed": {"type": "string", "default": "s"}}, "tasks": tasks}


@st.composite
def broken_documents(draw: st.DrawFn) -> str:
    """A valid definition with one value somewhere replaced by an arbitrary value, as YAML."""
    document = draw(valid_definitions())
    task = draw(st.sampled_from(document["tasks"]))
    target = draw(st.sampled_from(["document", "task", "args", "retry", "for_each", "after"]))
    key = draw(st.sampled_from(["name", "tasks", "inputs", "action", "flow", "args", "retry", "after", "x"]))
    value = draw(json_values)
    if target == "document":
        document[key] = value
    elif target == "task":
        task[key] = value
    elif target == "args":
        task["args"] = {draw(st.text(max_size=6)): value}
    elif target == "retry":
        task["retry"] = {"attempts": value}
    elif target == "for_each":
        task["for_each"] = value
    else:
        task["after"] = value
    return yaml.safe_dump(document, sort_keys=False)
