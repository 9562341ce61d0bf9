"""SimDriver: a nova virt driver whose VMs are records plus real disk files.

It extends nova's ``FakeDriver`` (which keeps the bookkeeping nova expects) with what the
control plane and opsflow's operations need to see from a hypervisor:

* hypervisor-like latencies for spawn, power, reboot, snapshot and destroy;
* a real disk per VM (``disks.py``), written from the image's bytes on spawn (images are cached per
  host), uploaded to Glance on snapshot, copied to the new host on resize or cold migration and
  deleted on destroy;
* failures on demand (a share of boots, or a server tagged to fail) and realistic capacity;
* per-VM usage (CPU time, last activity) in the diagnostics, so idle VMs can be told apart;
* state that survives a restart of the compute service, as a real hypervisor's guests do: each VM
  has a small JSON record next to its disk, read back in ``init_host``.

Nova imports drivers only from ``nova.virt``; ``host.py`` registers this module there.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nova.conf
from nova import exception
from nova.compute import power_state, task_states
from nova.image import glance
from nova.objects import diagnostics as diagnostics_obj
from nova.virt import fake

from opsflow.plugins.nova import behaviour, disks, opts
from opsflow.plugins.nova.console import console_log

__all__ = ["SimDriver", "node_uuid"]

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
opts.register(CONF)

#: Namespace of the node uuids, so a host keeps its resource provider across restarts.
NODE_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4b8e-9a57-0c5d1f0e7a11")
#: Subdirectory of a host's directory that caches the images it booted from.
IMAGE_CACHE = "_base"
#: CPU share of a busy and of an idle simulated VM.
BUSY_CPU = 0.35
IDLE_CPU = 0.0005


def node_uuid(nodename: str) -> str:
    """The stable resource-provider uuid of a simulated node."""
    return str(uuid.uuid5(NODE_NAMESPACE, nodename))


class SimDriver(fake.FakeDriver):  # type: ignore[misc]
    """A simulated hypervisor: one node per nova-compute service, named after its host."""

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        sim = CONF.opsflow_sim
        self.vcpus = sim.vcpus
        self.memory_mb = sim.memory_mb
        self.local_gb = sim.disk_gb
        # hypervisor_type stays FakeDriver's "fake": nova accepts only its own HVType values in
        # supported_instances, and a type missing from that list breaks image-property scheduling
        super().__init__(virtapi, read_only)
        self._image_api = glance.API()
        self._dir = Path(sim.disk_dir)
        #: The operator's behaviour profile for this region (re-read when it changes).
        self._behaviour = behaviour.Behaviour(Path(sim.disk_dir))
        self._hostname = ""
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        #: When this hypervisor "booted": the compute service's start, as a host's uptime counts.
        self._booted = time.time()

    # -- host --------------------------------------------------------------------------------

    def init_host(self, host: str) -> None:
        """Take the host name as the node name and adopt the VMs whose records are on disk."""
        super().init_host(host)
        self._set_nodes([host])
        self._dir = Path(CONF.opsflow_sim.disk_dir) / host
        self._hostname = host
        self._dir.mkdir(parents=True, exist_ok=True)
        for record_path in self._dir.glob("*.json"):
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError) as exc:
                LOG.warning("ignoring unreadable VM record %s: %s", record_path, exc)
                continue
            self._records[record["uuid"]] = record
            self.instances[record["uuid"]] = fake.FakeInstance(
                record["name"], record["state"], record["uuid"])
            self._interfaces.update({vif: {"id": vif} for vif in record.get("vifs", ())})
        LOG.info("simulated hypervisor %s ready with %d VM(s) in %s",
                 host, len(self._records), self._dir)

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        """Report the configured capacity under a node uuid that survives restarts."""
        status: dict[str, Any] = super().get_available_resource(nodename)
        if status:
            status["uuid"] = node_uuid(nodename)
        return status

    def get_nodenames_by_uuid(self, refresh: bool = False) -> dict[str, str]:
        """Map this host's node uuid to its name."""
        return {node_uuid(n): n for n in self.get_available_nodes()}

    def get_host_uptime(self) -> str:
        """What ``uptime`` prints on the host, as libvirt's driver reports it (``hypervisor uptime``).

        Its load averages are the summed CPU share of the running VMs, as runnable vCPUs count.
        """
        now = time.time()
        days, rest = divmod(int(now - self._booted), 86400)
        hours, minutes = divmod(rest // 60, 60)
        with self._lock:
            load = sum(BUSY_CPU if r.get("activity") == "busy" else IDLE_CPU
                       for r in self._records.values() if r.get("running_since"))
        return (f"{time.strftime('%H:%M:%S', time.localtime(now))} up {days} days, {hours:2d}:{minutes:02d},"
                f"  0 users,  load average: {load:.2f}, {load:.2f}, {load:.2f}")

    def get_host_ip_addr(self) -> str:
        """Every simulated host lives on loopback."""
        return "127.0.0.1"

    # -- lifecycle ---------------------------------------------------------------------------

    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any,
              admin_password: Any, allocations: Any, network_info: Any = None,
              block_device_info: Any = None, power_on: bool = True, accel_info: Any = None) -> None:
        """Boot: wait like a hypervisor, maybe fail on purpose, write the disk, record the VM."""
        self._pause("spawn", CONF.opsflow_sim.spawn_seconds)
        reason = self._injected_failure(instance)
        if reason:
            LOG.info("simulated boot failure for %s: %s", instance.uuid, reason)
            raise exception.BuildAbortException(instance_uuid=instance.uuid, reason=reason)
        image_id = self._image_id(image_meta)
        self._write_disk(context, instance, image_id)
        self._slow_disk(self.disk_path(instance.uuid))
        super().spawn(context, instance, image_meta, injected_files, admin_password, allocations,
                      network_info=network_info, block_device_info=block_device_info,
                      power_on=power_on, accel_info=accel_info)
        activity = _metadata(instance).get(CONF.opsflow_sim.activity_metadata_key)
        if activity not in ("idle", "busy"):
            activity = "idle" if random.random() < CONF.opsflow_sim.idle_share else "busy"
        now = time.time()
        vifs = [vif["id"] for vif in network_info or ()]
        self._interfaces.update({vif["id"]: vif for vif in network_info or ()})
        self._save(instance.uuid, name=instance.name, image_id=image_id, activity=activity,
                   spawned_at=now, cpu_ns=0, running_since=now if power_on else None,
                   state=self.instances[instance.uuid].state, vifs=vifs)

    def power_off(self, instance: Any, timeout: int = 0, retry_interval: int = 0) -> None:
        """Shut the VM down; its CPU clock stops."""
        self._pause("power", CONF.opsflow_sim.power_seconds)
        super().power_off(instance, timeout, retry_interval)
        self._account(instance.uuid, running=False)

    def power_on(self, context: Any, instance: Any, network_info: Any,
                 block_device_info: Any = None, accel_info: Any = None, share_info: Any = None) -> None:
        """Start the VM; its CPU clock runs again."""
        self._pause("power", CONF.opsflow_sim.power_seconds)
        super().power_on(context, instance, network_info, block_device_info=block_device_info,
                         accel_info=accel_info, share_info=share_info)
        self._account(instance.uuid, running=True)

    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str,
               block_device_info: Any = None, bad_volumes_callback: Any = None,
               accel_info: Any = None, share_info: Any = None) -> None:
        """Reboot in place (a hard reboot of a VM the hypervisor lost boots it again)."""
        self._pause("reboot", CONF.opsflow_sim.reboot_seconds)
        if instance.uuid not in self.instances:
            super().reboot(context, instance, network_info, reboot_type,
                           block_device_info=block_device_info)
            return
        self.instances[instance.uuid].state = power_state.RUNNING
        self._account(instance.uuid, running=True)

    def destroy(self, context: Any, instance: Any, network_info: Any, block_device_info: Any = None,
                destroy_disks: bool = True, destroy_secrets: bool = True) -> None:
        """Tear the VM down and, unless nova keeps them (a migration), delete its disk and record."""
        self._pause("destroy", CONF.opsflow_sim.destroy_seconds)
        super().destroy(context, instance, network_info, block_device_info=block_device_info,
                        destroy_disks=destroy_disks, destroy_secrets=destroy_secrets)
        with self._lock:
            self._records.pop(instance.uuid, None)
        self._record_path(instance.uuid).unlink(missing_ok=True)
        if destroy_disks:
            self.disk_path(instance.uuid).unlink(missing_ok=True)

    def get_console_output(self, context: Any, instance: Any) -> str:
        """A plausible serial console: the guest's boot log, then one line per minute of uptime.

        nova's API keeps the last ``length`` lines the caller asks for, so the log grows with the
        VM's age like a real console's does.
        """
        usage = self._usage(instance.uuid)
        return console_log(instance.uuid, instance.hostname or instance.display_name or instance.uuid,
                           instance.flavor.vcpus, instance.flavor.memory_mb, usage["uptime"])

    def attach_interface(self, context: Any, instance: Any, image_meta: Any, vif: Any) -> None:
        """Plug a port; the VM's record keeps it so a restarted host still knows it."""
        super().attach_interface(context, instance, image_meta, vif)
        self._save_vifs(instance.uuid, add=vif["id"])

    def detach_interface(self, context: Any, instance: Any, vif: Any) -> None:
        """Unplug a port, the one the VM booted with included."""
        super().detach_interface(context, instance, vif)
        self._save_vifs(instance.uuid, remove=vif["id"])

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        """Upload the VM's disk bytes, exactly as they are on disk, to the Glance image nova made."""
        if instance.uuid not in self.instances:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        self._pause("snapshot", CONF.opsflow_sim.snapshot_seconds)
        reason = self._behaviour.failure(self._hostname, "snapshot")
        if reason:
            raise exception.NovaException(message=reason)
        snapshot = self._image_api.get(context, image_id)
        metadata = {
            "status": "active",
            "name": snapshot["name"],
            "disk_format": "raw",
            "container_format": "bare",
            "properties": {"image_location": "snapshot", "image_state": "available",
                           "owner_id": instance.project_id},
        }
        update_task_state(task_state=task_states.IMAGE_UPLOADING,
                          expected_state=task_states.IMAGE_PENDING_UPLOAD)
        with open(self.disk_path(instance.uuid), "rb") as data:
            self._image_api.update(context, image_id, metadata, data=data, purge_props=False)
        LOG.info("uploaded disk of %s as image %s", instance.uuid, image_id)

    # -- resize and cold migration ------------------------------------------------------------
    # Every simulated host lives on this machine, so "moving" a disk is copying it from the source
    # host's directory; the source copy stays until the resize is confirmed (or reverted to).

    def migrate_disk_and_power_off(self, context: Any, instance: Any, dest: str, flavor: Any,
                                   network_info: Any, block_device_info: Any = None,
                                   timeout: int = 0, retry_interval: int = 0) -> str:
        """Power the VM off on the source; the destination fetches the disk in finish_migration.

        (``dest`` is the destination's IP, 127.0.0.1 for every simulated host, so the copy is made
        by the destination, which knows the source host from the migration record.)
        """
        self.power_off(instance)
        return json.dumps({"disk": str(self.disk_path(instance.uuid))})

    def finish_migration(self, context: Any, migration: Any, instance: Any, disk_info: Any,
                         network_info: Any, image_meta: Any, resize_instance: bool, allocations: Any,
                         block_device_info: Any = None, power_on: bool = True,
                         share_info: Any = None) -> None:
        """Copy the disk and record from the source host, grow the disk to the new flavor, start."""
        self._pause("power", CONF.opsflow_sim.power_seconds)
        source = self._dir.parent / migration.source_compute
        for suffix in (".disk", ".json"):
            src = source / f"{instance.uuid}{suffix}"
            if not src.exists():
                raise exception.DiskNotFound(location=str(src))
            part = self._dir / f"{instance.uuid}{suffix}.part"
            shutil.copyfile(src, part)
            os.replace(part, self._dir / src.name)
        path = self.disk_path(instance.uuid)
        size = disks.disk_bytes(instance.flavor.root_gb, CONF.opsflow_sim.disk_mib_per_gb)
        if resize_instance and size > path.stat().st_size:
            os.truncate(path, size)
        self._records[instance.uuid] = json.loads(self._record_path(instance.uuid).read_text())
        fake.FakeDriver.spawn(self, context, instance, image_meta, None, None, allocations,
                              block_device_info=block_device_info, power_on=power_on)
        self._account(instance.uuid, running=power_on)
        LOG.info("took over the disk of %s from %s", instance.uuid, migration.source_compute)

    def finish_revert_migration(self, context: Any, instance: Any, network_info: Any, migration: Any,
                                block_device_info: Any = None, power_on: bool = True,
                                share_info: Any = None) -> None:
        """The source copy was kept: run the VM from it again."""
        super().finish_revert_migration(context, instance, network_info, migration,
                                        block_device_info=block_device_info, power_on=power_on,
                                        share_info=share_info)
        self._account(instance.uuid, running=power_on)

    # -- live migration ------------------------------------------------------------------------
    # Each simulated host has its own disk directory (no shared storage), so a live migration is a
    # block migration: the source copies the disk and record to the destination's directory, the
    # destination adopts them, and nova's post-migration cleanup deletes the source copy.

    def check_can_live_migrate_destination(self, context: Any, instance: Any, src_compute_info: Any,
                                           dst_compute_info: Any, block_migration: bool = False,
                                           disk_over_commit: bool = False) -> Any:
        """Say that storage is not shared, so nova migrates the disk and cleans up the source."""
        data = super().check_can_live_migrate_destination(
            context, instance, src_compute_info, dst_compute_info, block_migration, disk_over_commit)
        data.is_shared_block_storage = False
        data.is_shared_instance_path = False
        data.block_migration = True
        return data

    def live_migration(self, context: Any, instance: Any, dest: str, post_method: Any,
                       recover_method: Any, block_migration: bool = False, migrate_data: Any = None) -> None:
        """Copy the VM to ``dest`` while it runs, then switch over: it stops existing here."""
        try:
            self._pause("live_migration", CONF.opsflow_sim.live_migration_seconds)
            reason = self._behaviour.failure(self._hostname, "live_migration")
            if reason:
                raise exception.MigrationError(reason=reason)
            self._slow_disk(self.disk_path(instance.uuid))
            self._account(instance.uuid, running=True)  # CPU time so far travels with the record
            target = self._dir.parent / dest
            target.mkdir(parents=True, exist_ok=True)
            for source in (self.disk_path(instance.uuid), self._record_path(instance.uuid)):
                part = target / f"{source.name}.part"
                shutil.copyfile(source, part)
                os.replace(part, target / source.name)
        except Exception:
            LOG.exception("live migration of %s to %s failed; it keeps running here", instance.uuid, dest)
            recover_method(context, instance, dest, migrate_data)
            return
        self.instances.pop(instance.uuid, None)
        with self._lock:
            self._records.pop(instance.uuid, None)
        LOG.info("live-migrated %s to %s", instance.uuid, dest)
        post_method(context, instance, dest, block_migration, migrate_data)

    def post_live_migration_at_destination(self, context: Any, instance: Any, network_info: Any,
                                           block_migration: bool = False, block_device_info: Any = None) -> None:
        """Adopt the VM the source copied here: it runs on this host from now on."""
        record = json.loads(self._record_path(instance.uuid).read_text())
        with self._lock:
            self._records[instance.uuid] = record
        self.instances[instance.uuid] = fake.FakeInstance(instance.name, power_state.RUNNING, instance.uuid)
        self._interfaces.update({vif["id"]: vif for vif in network_info or ()})
        self._account(instance.uuid, running=True)

    def rollback_live_migration_at_destination(self, context: Any, instance: Any, network_info: Any,
                                               block_device_info: Any, destroy_disks: bool = True,
                                               migrate_data: Any = None) -> None:
        """Drop whatever part of the VM had been copied here."""
        for leftover in self._dir.glob(f"{instance.uuid}.*"):
            if destroy_disks or leftover.suffix != ".disk":
                leftover.unlink(missing_ok=True)

    def cleanup(self, context: Any, instance: Any, network_info: Any, block_device_info: Any = None,
                destroy_disks: bool = True, migrate_data: Any = None, destroy_vifs: bool = True,
                destroy_secrets: bool = True) -> None:
        """Remove a VM that no longer runs here (the source after a live migration): record, disk."""
        super().cleanup(context, instance, network_info, block_device_info=block_device_info,
                        destroy_disks=destroy_disks, migrate_data=migrate_data,
                        destroy_vifs=destroy_vifs, destroy_secrets=destroy_secrets)
        self._record_path(instance.uuid).unlink(missing_ok=True)
        if destroy_disks:
            self.disk_path(instance.uuid).unlink(missing_ok=True)

    # -- usage -------------------------------------------------------------------------------

    def get_diagnostics(self, instance: Any) -> dict[str, Any]:
        """Legacy (pre-2.48) diagnostics: a flat dict, with the simulator's usage keys added."""
        usage = self._usage(instance.uuid)
        return {
            "cpu0_time": usage["cpu_ns"],
            "memory": instance.flavor.memory_mb * 1024,
            "uptime": usage["uptime"],
            "last_activity": usage["last_activity"],
            "activity": usage["activity"],
            "vda_read": 0,
            "vda_write": 0,
        }

    def get_instance_diagnostics(self, instance: Any) -> Any:
        """Standard diagnostics: CPU time and utilisation from the VM's usage model."""
        usage = self._usage(instance.uuid)
        state = "running" if self.instances[instance.uuid].state == power_state.RUNNING else "shutdown"
        diags = diagnostics_obj.Diagnostics(
            state=state, driver="libvirt", hypervisor="opsflow-sim", hypervisor_os="linux",
            uptime=usage["uptime"], config_drive=False)
        utilisation = int(round(100 * (BUSY_CPU if usage["activity"] == "busy" else IDLE_CPU)))
        diags.add_cpu(id=0, time=usage["cpu_ns"], utilisation=utilisation)
        diags.memory_details = diagnostics_obj.MemoryDiagnostics(
            maximum=instance.flavor.memory_mb, used=0)
        return diags

    # -- helpers -----------------------------------------------------------------------------

    def disk_path(self, instance_uuid: str) -> Path:
        """Where this host keeps the disk of ``instance_uuid``."""
        return self._dir / f"{instance_uuid}.disk"

    def _record_path(self, instance_uuid: str) -> Path:
        return self._dir / f"{instance_uuid}.json"

    def _pause(self, operation: str, seconds: float) -> None:
        """Take as long as ``operation`` takes here: the profile's latency, else the option's with jitter."""
        profiled = self._behaviour.latency(self._hostname, operation, seconds)
        if profiled is not None:
            time.sleep(profiled)
        elif seconds > 0:
            jitter = CONF.opsflow_sim.jitter
            time.sleep(seconds * random.uniform(1 - jitter, 1 + jitter))

    def _slow_disk(self, path: Path) -> None:
        """A slow disk (behaviour profile) takes size / throughput to write or copy ``path``."""
        delay = self._behaviour.disk_seconds(self._hostname, path.stat().st_blocks * 512)  # sparse: real bytes
        if delay:
            time.sleep(delay)

    @staticmethod
    def _image_id(image_meta: Any) -> str:
        if image_meta is not None and image_meta.obj_attr_is_set("id"):
            return str(image_meta.id)
        return ""

    def _injected_failure(self, instance: Any) -> str:
        sim = CONF.opsflow_sim
        if _metadata(instance).get(sim.fail_metadata_key) == "boot":
            return f"boot failure requested by server metadata {sim.fail_metadata_key}=boot"
        if sim.boot_failure_rate and random.random() < sim.boot_failure_rate:
            return f"injected boot failure (boot_failure_rate={sim.boot_failure_rate})"
        return self._behaviour.failure(self._hostname, "spawn")

    def _write_disk(self, context: Any, instance: Any, image_id: str) -> None:
        size = disks.disk_bytes(instance.flavor.root_gb, CONF.opsflow_sim.disk_mib_per_gb)
        path = self.disk_path(instance.uuid)
        if not image_id:
            disks.write_disk(path, None, "", instance.uuid, size)
            return
        with open(self._cached_image(context, image_id), "rb") as image:
            disks.write_disk(path, image, image_id, instance.uuid, size)

    def _cached_image(self, context: Any, image_id: str) -> Path:
        """The image's bytes in this host's image cache, downloaded from Glance on first use.

        As nova's own image cache does on a real hypervisor: the second boot of an image on a host
        costs Glance nothing.
        """
        cache = self._dir / IMAGE_CACHE / image_id
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cache.parent, prefix=".part-", delete=False) as tmp:
                part = Path(tmp.name)
            try:
                self._image_api.download(context, image_id, dest_path=str(part))
                os.replace(part, cache)
            finally:
                part.unlink(missing_ok=True)
        return cache

    def _save(self, instance_uuid: str, **fields: Any) -> None:
        with self._lock:
            record = self._records.setdefault(instance_uuid, {"uuid": instance_uuid})
            record.update(fields)
            text = json.dumps(record)
        tmp = self._record_path(instance_uuid).with_suffix(".json.part")
        tmp.write_text(text)
        os.replace(tmp, self._record_path(instance_uuid))

    def _save_vifs(self, instance_uuid: str, *, add: str | None = None, remove: str | None = None) -> None:
        record = self._records.get(instance_uuid)
        if record is None:
            return
        vifs = [v for v in record.get("vifs", []) if v != remove]
        if add and add not in vifs:
            vifs.append(add)
        self._save(instance_uuid, vifs=vifs)

    def _account(self, instance_uuid: str, *, running: bool) -> None:
        """Close the running interval's CPU time and open a new one if the VM runs."""
        record = self._records.get(instance_uuid)
        if record is None:
            return
        now = time.time()
        cpu_ns = record.get("cpu_ns", 0)
        if record.get("running_since"):
            share = BUSY_CPU if record["activity"] == "busy" else IDLE_CPU
            cpu_ns += int((now - record["running_since"]) * share * 1e9)
        self._save(instance_uuid, cpu_ns=cpu_ns, running_since=now if running else None,
                   state=power_state.RUNNING if running else power_state.SHUTDOWN)

    def _usage(self, instance_uuid: str) -> dict[str, Any]:
        if instance_uuid not in self.instances:
            raise exception.InstanceNotFound(instance_id=instance_uuid)
        record = dict(self._records.get(instance_uuid, {}))
        now = time.time()
        cpu_ns = record.get("cpu_ns", 0)
        activity = record.get("activity", "busy")
        if record.get("running_since"):
            share = BUSY_CPU if activity == "busy" else IDLE_CPU
            cpu_ns += int((now - record["running_since"]) * share * 1e9)
        spawned = record.get("spawned_at", now)
        busy_running = activity == "busy" and record.get("running_since")
        last = now if busy_running else spawned
        return {
            "cpu_ns": cpu_ns,
            "uptime": int(now - spawned),
            "activity": activity,
            "last_activity": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)),
        }


def _metadata(instance: Any) -> dict[str, str]:
    """The server's metadata as the compute service received it, never lazy-loaded.

    A real build hands the hypervisor the instance with its metadata; lazy-loading a missing one
    would be a database round trip per boot from inside the driver, which no real driver makes.
    """
    if not instance.obj_attr_is_set("metadata"):
        return {}
    return dict(instance.metadata or {})
