"""On ZooKeeper too, one corrupted node makes its run listed as damaged, naming the node; the rest still list."""

import pytest
from kazoo.client import KazooClient

from tests.fixtures import chain, opsflow

pytestmark = pytest.mark.functional


def test_a_corrupted_atom_node_is_reported_and_the_rest_still_list(
        tmp_path, zookeeper_hosts: str, zk_chroot: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`flows list` on ZooKeeper lists the damaged run as damaged, names its znode, and lists the others."""
    url = f"zookeeper://{zookeeper_hosts}{zk_chroot}/state"
    flow = tmp_path / "chain.yaml"
    flow.write_text(chain().text)
    ids = [opsflow(capsys, "run", "--state", url, str(flow))[1].split()[1] for _ in range(3)]
    client = KazooClient(hosts=zookeeper_hosts)
    client.start(timeout=10)
    try:
        atom = client.get_children(f"{zk_chroot}/state/flows/{ids[2]}")[0]
        client.set(f"{zk_chroot}/state/atoms/{atom}", b"\x00\x01 not json")
    finally:
        client.stop()
        client.close()
    code, out, err = opsflow(capsys, "flows", "list", "--state", url, "-f", "value", "-c", "id", "-c", "state")
    assert code == 0 and "Traceback" not in err
    assert sorted(out.splitlines()) == sorted([f"{ids[0]} succeeded", f"{ids[1]} succeeded", f"{ids[2]} damaged"])
    assert f"run {ids[2]} is damaged: znode {zk_chroot}/state/atoms/{atom} at {zookeeper_hosts}" in err
