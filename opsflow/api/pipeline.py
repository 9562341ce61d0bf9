"""The paste file of the API's pipeline (no web framework imported: the bring-up writes it)."""

from __future__ import annotations

import dataclasses

from opsflow.identity.service_user import ServiceUser, authtoken_filter

__all__ = ["PasteSettings", "paste_ini"]


@dataclasses.dataclass(frozen=True)
class PasteSettings:
    """What a pipeline needs: where ZooKeeper is, and the service user that checks tokens with Keystone."""

    zookeeper: str
    service: ServiceUser
    policy_file: str = ""
    #: memcached servers of the access-key filter; "" leaves the filter out of the pipeline.
    access_key_memcache: str = ""


def paste_ini(settings: PasteSettings) -> str:
    """The paste file serving the API with ``settings``."""
    service = settings.service
    keys = " opsflow_keys" if settings.access_key_memcache else ""
    out = (f"[pipeline:main]\npipeline = cookie_token{keys} authtoken opsflow\n\n"
           "[app:opsflow]\npaste.app_factory = opsflow.api.server:app_factory\n"
           f"zookeeper = {settings.zookeeper}\nauth_url = {service.auth_url}\npolicy_file = {settings.policy_file}\n\n"
           "[filter:cookie_token]\npaste.filter_factory = opsflow.api.dashboard:cookie_filter_factory\n\n"
           + authtoken_filter(service, f"memcached_servers = {settings.access_key_memcache}\n"
                              if settings.access_key_memcache else ""))
    if settings.access_key_memcache:
        out += ("\n[filter:opsflow_keys]\npaste.filter_factory = opsflow.plugins.keystone.sigv4:filter_factory\n"
                f"{service.password_options()}memcache_servers = {settings.access_key_memcache}\ncache_seconds = 5\n"
                "max_skew_seconds = 300\n")
    return out
