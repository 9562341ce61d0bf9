"""The paste file of the API's pipeline (no web framework imported: the bring-up writes it)."""

from __future__ import annotations

import dataclasses

__all__ = ["PasteSettings", "paste_ini"]


@dataclasses.dataclass(frozen=True)
class PasteSettings:
    """What a pipeline needs: where ZooKeeper and Keystone are, and the service user's credentials."""

    zookeeper: str
    auth_url: str
    username: str
    password: str
    project_name: str = "service"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    policy_file: str = ""
    #: memcached servers of the access-key filter; "" leaves the filter out of the pipeline.
    access_key_memcache: str = ""


def paste_ini(settings: PasteSettings) -> str:
    """The paste file serving the API with ``settings``."""
    creds = (f"auth_url = {settings.auth_url}\nusername = {settings.username}\npassword = {settings.password}\n"
             f"project_name = {settings.project_name}\nuser_domain_name = {settings.user_domain_name}\n"
             f"project_domain_name = {settings.project_domain_name}\n")
    keys = " opsflow_keys" if settings.access_key_memcache else ""
    out = (f"[pipeline:main]\npipeline = cookie_token{keys} authtoken opsflow\n\n"
           "[app:opsflow]\npaste.app_factory = opsflow.api.server:app_factory\n"
           f"zookeeper = {settings.zookeeper}\nauth_url = {settings.auth_url}\npolicy_file = {settings.policy_file}\n\n"
           "[filter:cookie_token]\npaste.filter_factory = opsflow.api.dashboard:cookie_filter_factory\n\n"
           "[filter:authtoken]\npaste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
           f"www_authenticate_uri = {settings.auth_url}\nauth_type = password\n{creds}"
           "delay_auth_decision = true\n"
           + (f"memcached_servers = {settings.access_key_memcache}\n" if settings.access_key_memcache else ""))
    if settings.access_key_memcache:
        out += ("\n[filter:opsflow_keys]\npaste.filter_factory = opsflow.plugins.keystone.sigv4:filter_factory\n"
                f"{creds}memcache_servers = {settings.access_key_memcache}\ncache_seconds = 5\n"
                "max_skew_seconds = 300\n")
    return out
