"""Boot a handful of demo servers in the simulated cloud's source region, for ``tools/demo`` to move.

``python -m opsflow.forklift.demo CLOUD COUNT`` boots COUNT servers named ``demo-<hex>-N`` from the
seeded image on the shared network, waits until they run, and prints the name glob that selects
them (what ``opsflow forklift`` is given next).
"""

from __future__ import annotations

import sys
import uuid

from opsflow import clouds
from opsflow.devcloud import seed

__all__ = ["boot"]


def boot(cloud: str, count: int) -> str:
    """Boot ``count`` servers at ``cloud`` and wait for them; returns the glob that selects them."""
    conn = clouds.connect(cloud)
    prefix = f"demo-{uuid.uuid4().hex[:4]}"
    with clouds.errors(cloud, "booting the demo servers"):
        flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        network = conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False)
        made = [conn.compute.create_server(name=f"{prefix}-{i}", image_id=seed.image_id(conn), flavor_id=flavor.id,
                                           networks=[{"uuid": network.id}], metadata={"demo": "forklift"})
                for i in range(1, count + 1)]
        for server in made:
            conn.compute.wait_for_server(server, interval=1, wait=300)
    return f"{prefix}-*"


if __name__ == "__main__":
    print(boot(sys.argv[1], int(sys.argv[2])))
