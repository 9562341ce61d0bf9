"""The simulated cloud's auth wiring: opsflow's Keystone middleware, TOTP, EC2 keys and the S3 API.

Keystone 30 has no paste pipeline (shared/TESTBED.md, "Auth"), so the module gunicorn loads wraps
Keystone's WSGI callable with :func:`opsflow.plugins.keystone.wsgi.wrap`; the wrapper reads its
options from the ``[opsflow_totp]`` and ``[opsflow_keys]`` sections of ``keystone.conf`` (Keystone
ignores sections it does not know). Nova's API gets opsflow's SigV4 access-key filter in front of
``authtoken``; Swift's proxy gets ``s3api``, opsflow's access-key filter and ``s3token``, in that
order, so a key is checked by opsflow before s3token's secret cache can vouch for it.

Replay and lockout state lives in the devcloud's memcached (the one Swift already uses): its atomic
``add`` with a time to live is exactly "first use of this passcode wins", every Keystone worker and
the Swift proxy see the same entries, and expired entries vanish by themselves.
"""

from __future__ import annotations

from opsflow.devcloud import layout as lay

__all__ = [
    "KEYSTONE_MIDDLEWARE",
    "MFA_ROLE",
    "S3_REGION",
    "keystone_sections",
    "nova_paste",
    "s3_pipeline",
    "s3_sections",
]

#: ``module:function`` the devcloud's WSGI module wraps Keystone's application with.
KEYSTONE_MIDDLEWARE = "opsflow.plugins.keystone.wsgi:wrap"
#: Users holding this role must log in with a second factor, enrolled or not (tests assign it).
MFA_ROLE = "opsflow-mfa"
#: The S3 API's region: clients (boto3, awscli) must sign for this one.
S3_REGION = lay.REGIONS[0]
#: Seconds a revoked or expired key may keep working where opsflow caches key lookups.
KEY_CACHE_SECONDS = 5


def _memcache(layout: lay.Layout) -> str:
    return f"127.0.0.1:{layout.memcached_port}"


def keystone_sections(layout: lay.Layout) -> dict[str, dict[str, object]]:
    """Sections added to ``keystone.conf``: auth methods and opsflow's middleware options."""
    return {
        # totp for the second factor, ec2credential for ec2tokens (the access keys)
        "auth": {"methods": "password,token,totp,application_credential,ec2credential"},
        "opsflow_totp": {
            "memcache_servers": _memcache(layout),
            "drift_past": 1,
            "drift_future": 1,
            "lockout_failures": 5,
            "lockout_seconds": 120,
            "enforce_roles": MFA_ROLE,
            "enroll_hint": "run `opsflow totp enroll` or open "
                           f"{layout.auth_url.removesuffix('/v3')}/opsflow/totp/enroll",
        },
        "opsflow_keys": {"max_expiry_days": 365, "allow_no_expiry": False},
    }


def _key_filter_options(layout: lay.Layout, username: str) -> str:
    return (f"auth_url = {layout.auth_url}\n"
            f"username = {username}\n"
            f"password = {lay.SERVICE_PASSWORD}\n"
            "project_name = service\n"
            "user_domain_name = Default\n"
            "project_domain_name = Default\n"
            f"memcache_servers = {_memcache(layout)}\n"
            f"cache_seconds = {KEY_CACHE_SECONDS}\n"
            "max_skew_seconds = 300\n")


def nova_paste(paste: str, layout: lay.Layout) -> str:
    """Nova's ``api-paste.ini`` with opsflow's access-key filter right before ``authtoken``."""
    out = paste.replace(" authtoken keystonecontext", " opsflow_keys authtoken keystonecontext")
    return out + ("\n[filter:opsflow_keys]\n"
                  "paste.filter_factory = opsflow.plugins.keystone.sigv4:filter_factory\n"
                  + _key_filter_options(layout, "nova"))


def s3_pipeline() -> str:
    """Pipeline words after ``authtoken``: the S3 API, opsflow's key check, then s3token."""
    return "s3api opsflow_s3keys s3token"


def s3_sections(layout: lay.Layout) -> str:
    """The proxy's filter sections for :func:`s3_pipeline`."""
    return ("[filter:s3api]\n"
            "use = egg:swift#s3api\n"
            f"location = {S3_REGION}\n"
            "\n"
            "[filter:opsflow_s3keys]\n"
            "paste.filter_factory = opsflow.plugins.swift.s3keys:filter_factory\n"
            + _key_filter_options(layout, "swift") +
            "\n"
            "[filter:s3token]\n"
            "use = egg:swift#s3token\n"
            f"auth_uri = {layout.auth_url}\n"
            "reseller_prefix = AUTH_\n"
            # without service credentials s3token fails as a misleading SignatureDoesNotMatch
            f"auth_url = {layout.auth_url}\n"
            "auth_type = password\n"
            "username = swift\n"
            f"password = {lay.SERVICE_PASSWORD}\n"
            "project_name = service\n"
            "user_domain_name = Default\n"
            "project_domain_name = Default\n"
            # kept on to show it does not outlive opsflow's bound on revocation
            "secret_cache_duration = 60\n"
            "\n")
