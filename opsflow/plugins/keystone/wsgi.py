"""How the middleware gets into Keystone: wrap Keystone 30's WSGI callable, or build it by paste.

Keystone 30 has no paste pipeline, so :func:`wrap` is what the module gunicorn loads calls
(``application = wrap(application)``; the devcloud sets ``OPSFLOW_WSGI_MIDDLEWARE`` to it). Its
options come from the ``[opsflow_totp]`` and ``[opsflow_keys]`` sections of the config files in
``$OS_KEYSTONE_CONFIG_FILES`` (Keystone ignores sections it does not know). Deployments that do
build a paste pipeline use :func:`filter_factory` with the same option names (access-key options
prefixed ``keys_``). Outermost first: the enrollment page, the TOTP guard, the credential guard,
then Keystone.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opsflow.plugins.keystone.credential_guard import CredentialGuard
from opsflow.plugins.keystone.enroll_page import EnrollPage
from opsflow.plugins.keystone import replies
from opsflow.plugins.keystone.options import KeyOptions, TotpOptions
from opsflow.plugins.keystone.store import MemcacheStore
from opsflow.plugins.keystone.totp_guard import TotpGuard

__all__ = ["build", "filter_factory", "wrap"]



def build(app: replies.App, totp: TotpOptions, keys: KeyOptions, directory: Any = None) -> replies.App:
    """Keystone's ``app`` behind opsflow's middleware (``directory``: Keystone in process by default)."""
    if directory is None:
        from opsflow.plugins.keystone.directory import KeystoneDirectory

        directory = KeystoneDirectory()
    store = MemcacheStore(totp.memcache_servers)
    guarded = TotpGuard(CredentialGuard(app, keys, directory, store), totp, directory, store)
    page = EnrollPage(totp, directory, store)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/") == EnrollPage.PATH:
            return page(environ, start_response)
        return guarded(environ, start_response)

    return application


def _sections(files: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read([f for f in files if f])
    def section(name: str) -> dict[str, str]:
        return dict(parser.items(name)) if parser.has_section(name) else {}
    return section("opsflow_totp"), section("opsflow_keys")


def wrap(app: replies.App) -> replies.App:
    """Wrap Keystone's application with options read from ``$OS_KEYSTONE_CONFIG_FILES``."""
    totp, keys = _sections(os.environ.get("OS_KEYSTONE_CONFIG_FILES", "/etc/keystone/keystone.conf").split(";"))
    return build(app, TotpOptions.from_mapping(totp), KeyOptions.from_mapping(keys))


def filter_factory(global_conf: Mapping[str, str], **local_conf: str) -> Callable[[replies.App], replies.App]:
    """Paste entry: ``paste.filter_factory = opsflow.plugins.keystone.wsgi:filter_factory``."""
    conf = {**global_conf, **local_conf}
    keys = {k.removeprefix("keys_"): v for k, v in conf.items() if k.startswith("keys_")}
    return lambda app: build(app, TotpOptions.from_mapping(conf), KeyOptions.from_mapping(keys))
