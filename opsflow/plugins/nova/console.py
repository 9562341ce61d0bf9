"""The serial console a simulated VM shows: a Linux boot log, then what a quiet guest prints later.

``openstack console log show --lines N`` keeps the last N lines of what the driver returns, so the
text must look like a console and grow as a real one does: a kernel and systemd boot of about sixty
lines, cloud-init naming the host, a login prompt, then one periodic line per minute of uptime.
Everything is derived from the VM's uuid, so the same VM always shows the same log.
"""

from __future__ import annotations

import random

__all__ = ["console_log"]

#: Lines of the boot, in order; ``{…}`` fields are filled from the VM.
BOOT = (
    "Linux version 6.1.0-sim (opsflow@sim) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC",
    "Command line: BOOT_IMAGE=/vmlinuz root=LABEL=cloudimg-rootfs ro console=ttyS0",
    "BIOS-provided physical RAM map:",
    "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "BIOS-e820: [mem 0x0000000000100000-0x{ram_top:016x}] usable",
    "NX (Execute Disable) protection: active",
    "SMBIOS 2.8 present.",
    "DMI: OpenStack Foundation OpenStack Nova, BIOS 1.16.2 04/01/2014",
    "Hypervisor detected: KVM",
    "kvm-clock: Using msrs 4b564d01 and 4b564d00",
    "tsc: Detected 2394.454 MHz processor",
    "Memory: {memory_kb}K available",
    "smpboot: Allowing {vcpus} CPUs, 0 hotplug CPUs",
    "Kernel command line: BOOT_IMAGE=/vmlinuz root=LABEL=cloudimg-rootfs ro console=ttyS0",
    "Dentry cache hash table entries: 262144 (order: 9, 2097152 bytes, linear)",
    "rcu: Hierarchical RCU implementation.",
    "Console: colour dummy device 80x25",
    "printk: console [ttyS0] enabled",
    "ACPI: Core revision 20220331",
    "clocksource: tsc-early: mask: 0xffffffffffffffff",
    "smp: Bringing up secondary CPUs ...",
    "smp: Brought up 1 node, {vcpus} CPUs",
    "devtmpfs: initialized",
    "NET: Registered PF_NETLINK/PF_ROUTE protocol family",
    "PCI: Using configuration type 1 for base access",
    "virtio_blk virtio2: [vda] {disk_sectors} 512-byte logical blocks",
    " vda: vda1 vda14 vda15",
    "virtio_net virtio0 ens3: renamed from eth0",
    "EXT4-fs (vda1): mounted filesystem with ordered data mode. Quota mode: none.",
    "Run /sbin/init as init process",
    "systemd[1]: systemd 252 running in system mode",
    "systemd[1]: Detected virtualization kvm.",
    "systemd[1]: Detected architecture x86-64.",
    "systemd[1]: Hostname set to <{hostname}>.",
    "systemd[1]: Started Journal Service.",
    "EXT4-fs (vda1): re-mounted. Quota mode: none.",
    "systemd[1]: Reached target Local File Systems.",
    "systemd[1]: Starting Network Configuration...",
    "systemd[1]: Started Network Configuration.",
    "cloud-init[412]: Cloud-init v. 23.1 running 'init-local'.",
    "cloud-init[521]: Cloud-init v. 23.1 running 'init'.",
    "cloud-init[521]: ci-info: ++++++++++++++++++++Net device info++++++++++++++++++++",
    "cloud-init[521]: ci-info: | ens3 | True | {address} | 255.255.255.0 | global |",
    "cloud-init[521]: ci-info: +++++++++++++++++++++++++++++++++++++++++++++++++++++",
    "cloud-init[521]: Generating public/private ed25519 key pair.",
    "cloud-init[521]: The key fingerprint is: SHA256:{fingerprint} root@{hostname}",
    "systemd[1]: Starting OpenBSD Secure Shell server...",
    "systemd[1]: Started OpenBSD Secure Shell server.",
    "cloud-init[640]: Cloud-init v. 23.1 running 'modules:config'.",
    "cloud-init[702]: Cloud-init v. 23.1 running 'modules:final'.",
    "cloud-init[702]: Cloud-init v. 23.1 finished. Datasource DataSourceOpenStackLocal.",
    "systemd[1]: Reached target Multi-User System.",
    "systemd[1]: Startup finished in 1.912s (kernel) + 6.204s (userspace) = 8.116s.",
    "",
    "Debian GNU/Linux 12 {hostname} ttyS0",
    "",
    "{hostname} login: ",
)

#: What a quiet guest prints later, one line per minute, chosen per VM.
LATER = (
    "systemd[1]: Starting Daily apt download activities...",
    "systemd[1]: Finished Daily apt download activities.",
    "systemd[1]: Starting Cleanup of Temporary Directories...",
    "systemd[1]: Finished Cleanup of Temporary Directories.",
    "systemd-timesyncd[301]: Contacted time server 10.0.0.1:123.",
    "random: crng reseeded on system resumption",
    "cron[455]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
)


def console_log(vm_uuid: str, hostname: str, vcpus: int, memory_mb: int, uptime_s: int) -> str:
    """The console of a VM booted ``uptime_s`` seconds ago: its boot, then a line per minute."""
    rng = random.Random(vm_uuid)
    fields = {
        "hostname": hostname,
        "vcpus": vcpus,
        "memory_kb": memory_mb * 1024 - 65536,
        "ram_top": memory_mb * 1024 * 1024 - 1,
        "disk_sectors": rng.choice((2, 4, 8, 20)) * 2097152,
        "address": f"10.0.0.{rng.randint(3, 254)}",
        "fingerprint": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                               for _ in range(43)),
    }
    lines, stamp = [], 0.0
    for template in BOOT:
        stamp += rng.uniform(0.0005, 0.15)
        text = template.format(**fields)
        lines.append(f"[{stamp:12.6f}] {text}" if text and not text.startswith(("Debian", hostname)) else text)
    for minute in range(1, uptime_s // 60 + 1):
        lines.append(f"[{minute * 60 + rng.uniform(0, 1):12.6f}] {rng.choice(LATER)}")
    return "\n".join(lines)
