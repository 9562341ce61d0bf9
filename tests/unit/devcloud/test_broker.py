"""The simulated cloud's own RabbitMQ: its ports, node, files and where every service is pointed."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from opsflow.devcloud import broker, configs
from opsflow.devcloud.layout import Layout


def test_each_cloud_has_its_own_node_ports_and_directory(tmp_path: Path) -> None:
    """Two clouds on different bases share no broker port, node name or data directory."""
    first, second = Layout(tmp_path / "a"), Layout(tmp_path / "b", port_base=19200)
    assert (first.broker_port, first.broker_dist_port) == (19080, 19081)
    assert (second.broker_port, second.broker_dist_port) == (19280, 19281)
    assert broker.node(first) != broker.node(second)
    assert first.broker_dir != second.broker_dir
    assert 5672 not in {first.broker_port, second.broker_port}


def test_every_service_talks_to_the_clouds_own_broker(tmp_path: Path) -> None:
    """No config names the machine's shared RabbitMQ on 5672; each region uses its own vhost."""
    layout = Layout(tmp_path, port_base=19200)
    pastes = {"nova": "[composite:osapi_compute]\n", "neutron": "", "glance": ""}
    texts = "\n".join(configs.all_files(layout, configs.SimSettings(), pastes).values())
    assert ":5672" not in texts
    for region in layout.regions():
        assert f"rabbit://guest:guest@127.0.0.1:19280/{region.vhost}" in texts


def test_boot_definitions_make_the_vhosts_and_a_guest_that_logs_in(tmp_path: Path) -> None:
    """The broker starts with both regions' vhosts, guest allowed in each, guest's password hashed
    as RabbitMQ's sha256 scheme checks it."""
    layout = Layout(tmp_path, port_base=19200)
    files = broker.files(layout)
    defs = json.loads(files[layout.broker_dir / "definitions.json"])
    assert {v["name"] for v in defs["vhosts"]} == {r.vhost for r in layout.regions()}
    assert {p["vhost"] for p in defs["permissions"] if p["user"] == "guest"} == {r.vhost for r in layout.regions()}
    (guest,) = defs["users"]
    raw = base64.b64decode(guest["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert digest == hashlib.sha256(salt + b"guest").digest()
    conf = files[layout.broker_dir / "rabbitmq.conf"]
    assert "listeners.tcp.1 = 127.0.0.1:19280" in conf
    # Debian's env file names the shared node: ours is empty
    assert files[layout.broker_dir / "rabbitmq-env.conf"] == ""


def test_nothing_answers_amqp_on_a_closed_port() -> None:
    """The health probe is an AMQP handshake, not just an open port."""
    assert not broker.serving(9, timeout=0.5)
