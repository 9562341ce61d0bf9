"""Schema violations of a YAML document as one located, actionable sentence.

Flow definitions, reclaim policies, traffic profiles and behaviour profiles are all checked with a
JSON Schema on a :class:`~opsflow.flows.yamldoc.Document`; jsonschema's own messages name the rule
but not the fix. This is the one place that picks the violation to report (jsonschema's
``best_match``), says where it is (``tasks[2].args``) and words the common cases (an unknown key
lists the allowed ones, a missing key says to add it); each document kind words its own cases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jsonschema

from opsflow.flows.yamldoc import Document, Path

__all__ = ["Explain", "check", "explain", "where"]

#: A document kind's own wording for a violation, or None to fall back to the common wording.
Explain = Callable[[jsonschema.ValidationError], "str | None"]


def where(path: Path, whole: str) -> str:
    """``traffic[1].burst.count`` for a path into a document; ``whole`` for its root."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or whole


def explain(error: jsonschema.ValidationError, specific: Explain | None = None) -> str:
    """The kind's own sentence for ``error`` if it has one, else the common wording."""
    if specific is not None and (said := specific(error)) is not None:
        return said
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else []
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{error.message}; add it"
    return str(error.message)


def check(doc: Document, validator: jsonschema.protocols.Validator, whole: str,
          specific: Explain | None = None,
          locate: Callable[[jsonschema.ValidationError], Path] | None = None) -> None:
    """Raise :class:`~opsflow.errors.DefinitionError` at the best violation of ``validator`` in
    ``doc``, as ``where: what to do``; ``locate`` picks the position (default: the offending value)."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc.value))
    if error is None:
        return
    path: Path = tuple(error.absolute_path)
    raise doc.error(locate(error) if locate else path, f"{where(path, whole)}: {explain(error, specific)}")
