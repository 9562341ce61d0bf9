"""The ``openstack`` command's plugin for opsflow: ``openstack flow ...`` and ``openstack job ...``.

Registered through the ``openstack.cli.extension`` entry point (:mod:`.plugin`); the commands are
the ``openstack.opsflow.v1`` entry points (:mod:`.v1`); opsflow's own client (:class:`opsflow.api.remote.Client`)
talks to the API whose endpoint it finds in the Keystone catalog (service type ``workflow-ops``).
"""
