"""opsflow's simulated hypervisor for nova-compute.

``driver.SimDriver`` is a virt driver (loaded by a real nova-compute through ``compute_driver``);
``host.py`` runs many simulated hypervisors, each its own nova-compute service, in one process;
``control.py`` runs nova's conductor and scheduler together without forking. Everything except
``disks.py`` and ``console.py`` imports nova, so import these modules only inside the services' virtualenv.
"""
