"""Child runs: a task that fans out over another task's result starts one run per item.

See :mod:`.batch` (ids, lanes, when a batch is over), :mod:`.atom` (the parent's task),
:mod:`.local` (children on the embedded engine).
"""

from opsflow.engines.children.atom import ChildRunsAtom, compile_batch
from opsflow.engines.children.batch import DEFAULT_CONCURRENCY, Batch, ChildEnd, ChildRuns, ParentLink, Progress

__all__ = ["DEFAULT_CONCURRENCY", "Batch", "ChildEnd", "ChildRuns", "ChildRunsAtom", "ParentLink", "Progress",
           "compile_batch"]
