"""opsflow's own service in the simulated cloud: a ZooKeeper, a conductor and ``opsflow api``.

The API is registered in Keystone's catalog as service ``opsflow``, type :data:`SERVICE_TYPE`,
in both regions, as any OpenStack service is, so ``openstack job list`` finds it there. Ports:
the API at base+70, its ZooKeeper at base+71. The conductor runs the jobs submitted through the
API with the cloud's ``clouds.yaml``. Everything here runs from opsflow's own virtualenv (the one
running the bring-up), not the services' one: it is opsflow, not OpenStack.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opsflow.api import pipeline
from opsflow.api.remote import SERVICE_TYPE
from opsflow.devcloud import layout as lay
from opsflow.devcloud import procs
from opsflow.identity.service_user import ServiceUser
from opsflow.services import zookeeper

__all__ = ["API_OFFSET", "NAMES", "SERVICE_TYPE", "api_url", "files", "processes", "seed_catalog", "zookeeper_hosts"]

#: Port offsets from the cloud's base.
API_OFFSET, ZOOKEEPER_OFFSET = 70, 71
#: Process names, as ``devcloud status`` shows them.
ZOOKEEPER, CONDUCTOR, API = "opsflow-zookeeper", "opsflow-conductor", "opsflow-api"
NAMES = (ZOOKEEPER, CONDUCTOR, API)
#: The service user auth_token validates tokens with.
SERVICE_USER = "opsflow"


def _dir(layout: lay.Layout) -> Path:
    return layout.state / "opsflow"


def api_url(layout: lay.Layout) -> str:
    """The API's endpoint, as registered in the catalog."""
    return f"http://127.0.0.1:{layout.port_base + API_OFFSET}"


def zookeeper_hosts(layout: lay.Layout) -> str:
    """The jobboard's address (``--zookeeper``) of this cloud's conductor and API."""
    return f"127.0.0.1:{layout.port_base + ZOOKEEPER_OFFSET}/opsflow"


def _zookeeper(layout: lay.Layout) -> zookeeper.ZooKeeperServer:
    return zookeeper.ZooKeeperServer(_dir(layout) / "zookeeper", layout.port_base + ZOOKEEPER_OFFSET,
                                     die_with_parent=False)


def files(layout: lay.Layout) -> dict[Path, str]:
    """The API's paste file (ZooKeeper's zoo.cfg is written by :func:`processes`' server object)."""
    settings = pipeline.PasteSettings(
        zookeeper=zookeeper_hosts(layout), service=ServiceUser(layout.auth_url, SERVICE_USER, lay.SERVICE_PASSWORD),
        access_key_memcache=f"127.0.0.1:{layout.memcached_port}")
    return {_dir(layout) / "api-paste.ini": pipeline.paste_ini(settings)}


def processes(layout: lay.Layout) -> list[procs.Proc]:
    """ZooKeeper, the conductor and the API, in start order."""
    zk = _zookeeper(layout)
    zk_argv = ["java", *zookeeper.JAVA_OPTIONS, "-cp", zookeeper.classpath() if _jars() else "",
               "org.apache.zookeeper.server.ZooKeeperServerMain", str(zk.config_path)]
    opsflow = str(Path(sys.executable).parent / "opsflow")
    env = {"OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml)}
    return [
        procs.Proc(name=ZOOKEEPER, region="", argv=zk_argv, port=zk.client_port, ready_text="binding to port"),
        procs.Proc(name=CONDUCTOR, region="", argv=[opsflow, "conductor", "--zookeeper",
                                                    zookeeper_hosts(layout), "--name", "devcloud-conductor"],
                   env=env, ready_text="starting on"),
        procs.Proc(name=API, region="", port=layout.port_base + API_OFFSET, env=env,
                   argv=[opsflow, "api", "serve", "--paste", str(_dir(layout) / "api-paste.ini"),
                         "--port", str(layout.port_base + API_OFFSET)],
                   health_url=f"{api_url(layout)}/"),
    ]


def _jars() -> bool:
    return all(jar.exists() for jar in zookeeper.ZOOKEEPER_JARS)


def prepare(layout: lay.Layout) -> None:
    """Write ZooKeeper's config (safe to repeat)."""
    _zookeeper(layout).write_config()


def seed_catalog(layout: lay.Layout, conn: Any, find: Any, grant: Any) -> None:
    """The ``opsflow`` service user, and the service with its endpoints in both regions."""
    service_project = find(conn.identity.find_project, "service", domain_id="default")
    user = (find(conn.identity.find_user, SERVICE_USER, domain_id="default")
            or conn.identity.create_user(name=SERVICE_USER, password=lay.SERVICE_PASSWORD, domain_id="default",
                                         default_project_id=service_project.id))
    grant(conn, service_project, user, [find(conn.identity.find_role, "admin"), find(conn.identity.find_role, "service")])
    svc = find(conn.identity.find_service, "opsflow") or conn.identity.create_service(name="opsflow", type=SERVICE_TYPE)
    have = {(e.interface, e.region_id) for e in conn.identity.endpoints(service_id=svc.id)}
    for region in lay.REGIONS:
        for interface in ("public", "internal", "admin"):
            if (interface, region) not in have:
                conn.identity.create_endpoint(service_id=svc.id, interface=interface, url=api_url(layout),
                                              region_id=region)
