"""The services' configuration files, rendered from the layout.

Each function returns ``{path: text}`` for one service; ``all_files`` gathers them so the
bring-up can write them and fingerprint them (a changed file means the cloud must be rebuilt).
Options are the ones shared/TESTBED.md found necessary on this machine; each non-obvious one
says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from opsflow.devcloud import auth
from opsflow.devcloud import layout as lay
from opsflow.devcloud import scheduler_modes

__all__ = ["SimSettings", "all_files", "ini"]

Sections = Mapping[str, Mapping[str, object]]


@dataclass(frozen=True)
class SimSettings:
    """How the simulated hypervisors of a region behave (the ``[opsflow_sim]`` options)."""

    #: Simulated hypervisors per region.
    computes: int = 2
    #: MiB of sparse disk per flavor GB; small so snapshots and copies stay cheap in tests.
    disk_mib_per_gb: int = 16
    spawn_seconds: float = 1.0
    power_seconds: float = 0.3
    reboot_seconds: float = 0.5
    destroy_seconds: float = 0.2
    snapshot_seconds: float = 0.3
    boot_failure_rate: float = 0.0
    #: Seconds between a compute service's heartbeats (nova's ``report_interval``).
    report_interval: int = 10
    #: Seconds without a heartbeat before nova calls a compute service down (``service_down_time``).
    service_down_time: int = 25
    #: How nova-scheduler places (``opsflow devcloud up --scheduler``); switching restarts only it.
    scheduler: scheduler_modes.SchedulerMode = scheduler_modes.SchedulerMode.DEVCLOUD
    #: Simulated hypervisors in the destination region when it differs (None: ``computes``), so a
    #: scale run can put a thousand in one region and keep the other small.
    destination_computes: int | None = None
    #: nova-conductor processes per region: the first shares its process with the scheduler, each
    #: further one runs alone. One interpreter is at most one core, and at a thousand hypervisors
    #: one conductor could not answer their heartbeats within their interval.
    conductors: int = 1

    def computes_in(self, region: str) -> int:
        """Simulated hypervisors of ``region``."""
        if region == "destination" and self.destination_computes is not None:
            return self.destination_computes
        return self.computes


def ini(sections: Sections) -> str:
    """Render ``{section: {option: value}}`` as an oslo.config file (lists comma-joined)."""
    out: list[str] = []
    for section, options in sections.items():
        out.append(f"[{section}]")
        for key, value in options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            out.append(f"{key} = {value}")
        out.append("")
    return "\n".join(out)


#: Connections per database engine of a service (oslo.db's defaults, 5 plus 50 overflow, would
#: let one loaded conductor take a third of the machine's MariaDB, whose 151 connections every
#: cloud on the machine shares; at "Too many connections" Keystone answers 500 and every
#: service fails). A service waits up to ``pool_timeout`` for a free one instead.
DB_POOL = {"max_pool_size": 3, "max_overflow": 5, "pool_timeout": 60}


def _db(name: str) -> str:
    return f"mysql+pymysql://{lay.DB_USER}:{lay.DB_PASSWORD}@127.0.0.1/{name}?charset=utf8"


def _service_auth(layout: lay.Layout, username: str, region: str | None = None) -> dict[str, object]:
    auth: dict[str, object] = {
        "auth_url": layout.auth_url,
        "auth_type": "password",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": username,
        "password": lay.SERVICE_PASSWORD,
    }
    if region:
        auth["region_name"] = region
    return auth


def _authtoken(layout: lay.Layout, username: str, region: str) -> dict[str, object]:
    return {"www_authenticate_uri": layout.auth_url, **_service_auth(layout, username, region),
            # the in-process token cache is fine for one worker; no memcached needed
            "memcached_servers": ""}


def _transport(region: lay.RegionLayout) -> str:
    # the cloud's own broker (opsflow.devcloud.broker), never the machine's shared one
    return f"rabbit://guest:guest@127.0.0.1:{region.broker_port}/{region.vhost}"


def keystone(layout: lay.Layout) -> dict[Path, str]:
    """Keystone (shared by both regions): fernet tokens, its own database."""
    d = layout.keystone_dir
    return {d / "keystone.conf": ini({
        "DEFAULT": {"use_stderr": True},
        "database": {"connection": _db(layout.keystone_database), **DB_POOL},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": d / "fernet-keys"},
        "fernet_receipts": {"key_repository": d / "fernet-keys"},
        "credential": {"key_repository": d / "credential-keys"},
        # Every API validates every token with Keystone, which then spent more CPU than any
        # other service in the boot benchmark; one worker, so an in-process cache is coherent.
        "cache": {"enabled": True, "backend": "oslo_cache.dict", "expiration_time": 600},
        **auth.keystone_sections(layout),
    })}


def placement(layout: lay.Layout, region: lay.RegionLayout) -> dict[Path, str]:
    """Placement of one region."""
    return {region.root / "placement" / "placement.conf": ini({
        "DEFAULT": {"use_stderr": True},
        "placement_database": {"connection": _db(region.database("placement")), **DB_POOL},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": _authtoken(layout, "placement", region.name),
    })}


def _nova_common(layout: lay.Layout, region: lay.RegionLayout, sim: SimSettings) -> dict[str, dict[str, object]]:
    nova_dir = region.root / "nova"
    return {
        "DEFAULT": {
            "use_stderr": True,
            "transport_url": _transport(region),
            "my_ip": "127.0.0.1",
            "host": f"{region.name}-control",
            "state_path": nova_dir / "state",
            # the compute API's own services (no metadata API, no consoles)
            "enabled_apis": "osapi_compute",
            # a simulated host that stops reporting shows "down" this long after its last heartbeat
            "service_down_time": sim.service_down_time,
        },
        "oslo_concurrency": {"lock_path": nova_dir / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
        "placement": _service_auth(layout, "placement", region.name),
        "neutron": _service_auth(layout, "neutron", region.name),
        "glance": {"region_name": region.name},
        "cinder": {"os_region_name": region.name},
        "vnc": {"enabled": False},
        # Neutron lets a user delete a server's port only with nova's service token alongside
        "service_user": {**_service_auth(layout, "nova"), "send_service_user_token": True},
        "keystone_authtoken": _authtoken(layout, "nova", region.name),
    }


def nova(layout: lay.Layout, region: lay.RegionLayout, paste: str, sim: SimSettings) -> dict[Path, str]:
    """Nova API, conductor and scheduler of one region (nova.conf + api-paste.ini)."""
    sections = _nova_common(layout, region, sim)
    sections["api"] = {"auth_strategy": "keystone"}
    sections["api_database"] = {"connection": _db(region.database("nova_api")), **DB_POOL}
    # map_cell0 derives the cell0 database name by appending "_cell0" to this one
    sections["database"] = {"connection": _db(region.database("nova")), **DB_POOL}
    sections["conductor"] = {"workers": 1}
    sections["scheduler"] = {
        "workers": 1,
        # hosts added later (more simulated hypervisors) are mapped without nova-manage
        "discover_hosts_in_cells_interval": 10,
        "max_attempts": 3,
    }
    sections["filter_scheduler"] = {
        # spread boots over equally good simulated hosts instead of stacking them on one
        "shuffle_best_same_weighed_hosts": True,
        "host_subset_size": 3,
        "track_instance_changes": False,
    }
    d = region.root / "nova"
    return {d / "nova.conf": ini(sections), d / "api-paste.ini": paste}


def nova_compute(layout: lay.Layout, region: lay.RegionLayout, sim: SimSettings) -> dict[Path, str]:
    """The simulated hypervisors of one region: no database sections (computes have no DB access)."""
    sections = _nova_common(layout, region, sim)
    sections["DEFAULT"].update({
        "compute_driver": "opsflow_sim.SimDriver",
        "report_interval": sim.report_interval,
        "update_resources_interval": 60,
        # nova reconnects the computes' shared RPC client on demand; a big pool only holds sockets
        "rpc_conn_pool_size": 8,
        "heal_instance_info_cache_interval": -1,
        "instance_usage_audit": False,
        "resume_guests_state_on_host_boot": False,
    })
    sections.pop("keystone_authtoken")
    sections["compute"] = {"resource_provider_association_refresh": 3600}
    # Each compute service listens on a connection of its own; with AMQP heartbeats each such
    # connection also runs a heartbeat thread (a thousand threads at N=1000, most of the compute
    # process's CPU). A broker on loopback that lives and dies with the cloud needs no heartbeat:
    # a dead TCP connection is seen at once.
    sections["oslo_messaging_rabbit"] = {"heartbeat_timeout_threshold": 0}
    sections["opsflow_sim"] = {
        "disk_dir": region.disk_dir,
        "disk_mib_per_gb": sim.disk_mib_per_gb,
        "spawn_seconds": sim.spawn_seconds,
        "power_seconds": sim.power_seconds,
        "reboot_seconds": sim.reboot_seconds,
        "destroy_seconds": sim.destroy_seconds,
        "snapshot_seconds": sim.snapshot_seconds,
        "boot_failure_rate": sim.boot_failure_rate,
    }
    return {region.root / "nova" / "nova-compute.conf": ini(sections)}


def neutron(layout: lay.Layout, region: lay.RegionLayout, paste: str) -> dict[Path, str]:
    """Neutron of one region: ML2 with flat/vlan and opsflow's mechanism driver, no agents."""
    d = region.root / "neutron"
    conf = ini({
        "DEFAULT": {
            "use_stderr": True,
            "core_plugin": "ml2",
            # the router plugin answers nova's floating IP queries (404 noise otherwise)
            "service_plugins": "router",
            "auth_strategy": "keystone",
            "transport_url": _transport(region),
            # no DHCP agent exists; don't try to notify one
            "dhcp_agent_notification": False,
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
            "host": f"{region.name}-control",
        },
        "database": {"connection": _db(region.database("neutron")), **DB_POOL},
        "keystone_authtoken": _authtoken(layout, "neutron", region.name),
        "nova": _service_auth(layout, "nova", region.name),
        "oslo_concurrency": {"lock_path": d / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
    })
    ml2 = ini({
        "ml2": {
            "type_drivers": "flat,vlan",
            "tenant_network_types": "vlan",
            "mechanism_drivers": "opsflow_sim",
            "extension_drivers": "port_security",
        },
        "ml2_type_flat": {"flat_networks": "physnet1"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199"},
        "ml2_opsflow_sim": {"host_prefixes": region.host_prefix},
    })
    return {d / "neutron.conf": conf, d / "plugins" / "ml2" / "ml2_conf.ini": ml2,
            d / "api-paste.ini": paste}


def glance(layout: lay.Layout, region: lay.RegionLayout, paste: str) -> dict[Path, str]:
    """Glance of one region with a file store under the region's directory."""
    d = region.root / "glance"
    return {d / "glance-api.conf": ini({
        "DEFAULT": {"use_stderr": True, "enabled_backends": "file:file"},
        "glance_store": {"default_backend": "file"},
        "file": {"filesystem_store_datadir": d / "images"},
        "os_glance_staging_store": {"filesystem_store_datadir": d / "staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": d / "tasks"},
        "database": {"connection": _db(region.database("glance")), **DB_POOL},
        "keystone_authtoken": _authtoken(layout, "glance", region.name),
        "paste_deploy": {"flavor": "keystone"},
        "oslo_concurrency": {"lock_path": d / "locks"},
        "oslo_messaging_notifications": {"driver": "noop"},
    }), d / "glance-api-paste.ini": paste}


def all_files(layout: lay.Layout, sim: SimSettings, pastes: Mapping[str, str]) -> dict[Path, str]:
    """Every config file of the simulated cloud; ``pastes`` holds the venv's paste files by service."""
    files = keystone(layout)
    for region in layout.regions():
        files.update(placement(layout, region))
        files.update(nova(layout, region, auth.nova_paste(pastes["nova"], layout), sim))
        files.update(scheduler_modes.files(layout, region))
        files.update(nova_compute(layout, region, sim))
        files.update(neutron(layout, region, pastes["neutron"]))
        files.update(glance(layout, region, pastes["glance"]))
    return files
