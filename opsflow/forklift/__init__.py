"""Forklift: moving servers between OpenStack clouds — inventory, plans, batches and reports.

The moving itself is YAML (``opsflow/definitions/forklift.yaml``) over the service actions in
``opsflow/tasks``; this package holds what is specific to planning and reporting migrations.
"""
