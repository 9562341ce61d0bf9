"""The config text opsflow's Swift is given, and the checks on what a caller asks for."""

from __future__ import annotations

import configparser
import os
import pwd
from pathlib import Path

import pytest

from opsflow.devcloud.swift_config import KeystoneAuth, Layout, Ports, TempAuth, render_configs
from opsflow.identity.service_user import ServiceUser

LAYOUT = Layout(Path("/srv/opsflow-swift"))


def _parse(auth: TempAuth | KeystoneAuth, ports: Ports | None = None) -> dict[str, configparser.ConfigParser]:
    parsed = {}
    for path, text in render_configs(LAYOUT, ports or Ports(), auth, "s3cret").items():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        parsed[path.name] = parser
    return parsed


def test_every_server_binds_loopback_in_one_process_without_mount_checks() -> None:
    """Each server binds 127.0.0.1 with workers 0, as the current user, without mount check or fallocate."""
    for name, conf in _parse(TempAuth()).items():
        if name == "swift.conf":
            continue
        expected = {
            "bind_ip": "127.0.0.1", "workers": "0", "user": pwd.getpwuid(os.geteuid()).pw_name, "mount_check": "false",
            "disable_fallocate": "true", "swift_dir": "/srv/opsflow-swift/etc",
            "devices": "/srv/opsflow-swift/devices",
        }
        assert expected.items() <= dict(conf["DEFAULT"]).items(), name


def test_ports_given_are_the_ports_bound() -> None:
    """Each server's bind_port and the proxy's memcache address come from Ports."""
    confs = _parse(TempAuth(), Ports(proxy=9080, account=9202, container=9201, object=9200, memcached=9211))
    assert [confs[f"{s}-server.conf"]["DEFAULT"]["bind_port"] for s in ("proxy", "account", "container", "object")] == [
        "9080", "9202", "9201", "9200"]
    assert confs["proxy-server.conf"]["filter:cache"]["memcache_servers"] == "127.0.0.1:9211"


def test_tempauth_pipeline_has_the_large_object_and_tempurl_middleware() -> None:
    """The tempauth proxy pipeline carries cache, bulk, tempurl, tempauth, slo and dlo, and autocreates accounts."""
    proxy = _parse(TempAuth("acct", "bob", "pw"))["proxy-server.conf"]
    pipeline = proxy["pipeline:main"]["pipeline"].split()
    assert {"cache", "bulk", "tempurl", "tempauth", "slo", "dlo"} <= set(pipeline)
    assert pipeline.index("tempauth") < pipeline.index("slo")
    assert pipeline[-1] == "proxy-server"
    assert proxy["filter:tempauth"]["user_acct_bob"] == "pw .admin"
    assert proxy["app:proxy-server"]["account_autocreate"] == "true"
    assert all(proxy.has_section(f"filter:{word}") for word in pipeline[:-1])


def test_keystone_pipeline_uses_authtoken_then_keystoneauth() -> None:
    """Keystone mode puts authtoken before keystoneauth and passes the service credentials."""
    auth = KeystoneAuth(ServiceUser("http://127.0.0.1:5000/v3", "swift", "pw", project_name="service"))
    proxy = _parse(auth)["proxy-server.conf"]
    pipeline = proxy["pipeline:main"]["pipeline"].split()
    assert pipeline.index("authtoken") + 1 == pipeline.index("keystoneauth")
    assert "tempauth" not in pipeline
    token = proxy["filter:authtoken"]
    assert (token["auth_url"], token["username"], token["password"], token["project_name"]) == (
        "http://127.0.0.1:5000/v3", "swift", "pw", "service")
    assert token["delay_auth_decision"] == "true"
    assert proxy["filter:keystoneauth"]["operator_roles"] == "admin, member"


def test_swift_conf_carries_the_hash_suffix_and_one_default_policy() -> None:
    """swift.conf has the given hash path suffix and a single default storage policy."""
    swift = _parse(TempAuth())["swift.conf"]
    assert swift["swift-hash"]["swift_hash_path_suffix"] == "s3cret"
    assert swift["storage-policy:0"]["default"] == "yes"


@pytest.mark.parametrize("ports", [
    {"proxy": 8080, "account": 8080},
    {"object": 0},
    {"memcached": 70000},
])
def test_bad_ports_are_refused(ports: dict[str, int]) -> None:
    """Ports outside 1-65535 or used twice are refused when the Ports are made."""
    with pytest.raises(ValueError, match="port"):
        Ports(**ports)


@pytest.mark.parametrize("fields", [{"account": "my_acct"}, {"user": ""}, {"key": "a b"}])
def test_tempauth_names_that_would_break_the_option_are_refused(fields: dict[str, str]) -> None:
    """tempauth names with '_', ':' or spaces, or empty ones, are refused."""
    with pytest.raises(ValueError, match="tempauth"):
        TempAuth(**fields)


def test_keystone_auth_needs_an_http_url() -> None:
    """A Keystone auth_url that is not http(s) is refused."""
    with pytest.raises(ValueError, match="auth_url"):
        KeystoneAuth(ServiceUser("127.0.0.1:5000/v3", "swift", "pw"))


def test_updaters_read_their_servers_config_with_short_intervals() -> None:
    """The container and object updaters have sections in their servers' configs, sweeping often."""
    confs = _parse(TempAuth())
    assert confs["container-server.conf"]["container-updater"]["interval"] == "5"
    assert confs["object-server.conf"]["object-updater"]["interval"] == "30"
    assert confs["object-server.conf"]["DEFAULT"]["recon_cache_path"] == "/srv/opsflow-swift/cache"
