"""The simulated serial console reads like a Linux guest's and grows with the VM's age."""

from opsflow.plugins.nova.console import console_log


def test_the_boot_names_the_host_its_cpus_and_ends_at_a_login_prompt() -> None:
    """The boot shows the flavor's vCPUs, the server's host name and a login prompt."""
    log = console_log("6c0e6d1a-1b1f-4f64-8d64-1c8b07d5f1a2", "web-1", 4, 2048, 0).splitlines()
    assert log[0].startswith("[") and "Linux version" in log[0]
    assert any("Allowing 4 CPUs" in line for line in log)
    assert any("Hostname set to <web-1>" in line for line in log)
    assert log[-1] == "web-1 login: "


def test_the_same_vm_always_shows_the_same_log_and_it_grows_a_line_a_minute() -> None:
    """Deterministic per VM; an hour later the console has sixty more lines, the boot unchanged."""
    young = console_log("a", "vm", 1, 512, 59)
    old = console_log("a", "vm", 1, 512, 3600)
    assert young == console_log("a", "vm", 1, 512, 59)
    assert old.startswith(young)
    assert len(old.splitlines()) - len(young.splitlines()) == 60
    assert console_log("b", "vm", 1, 512, 59) != young
