"""Actions: TaskFlow task classes that flows name in ``action:``, one module per service."""
