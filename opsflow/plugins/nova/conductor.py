"""One further nova-conductor, alone in its process (see :mod:`opsflow.plugins.nova.control`).

Run inside the services' virtualenv: ``python -m opsflow.plugins.nova.conductor --config-file F``.
"""

# the control module patches nova for threads before anything imports nova; it must come first.
from opsflow.plugins.nova import control  # isort: skip

if __name__ == "__main__":
    control.main(binaries=("nova-conductor",))
