"""Access keys for the tests: made through the keys-create flow, used by botocore and boto3."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import botocore.config
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opsflow.devcloud import auth as devcloud_auth
from opsflow.devcloud.layout import Layout
from opsflow.engines.runner import Runner
from opsflow.engines.records import RunState
from tests.functional.auth.enroll import definition


@dataclass(frozen=True)
class Key:
    """An access key and its secret."""

    access: str
    secret: str


def create(cloud: str, work: Path, expires: str = "90d", runner: Runner | None = None) -> Key:
    """Run keys-create as ``cloud``'s user; return the key with the secret it wrote."""
    secret_file = work / f"secret-{len(list(work.glob('secret-*')))}"
    inputs = {"cloud": cloud, "secret_file": str(secret_file), "expires": expires}
    own = runner or Runner(f"sqlite:///{work}/keys.db")
    try:
        record = own.run(definition("keys-create"), inputs)
    finally:
        if runner is None:
            own.close()
    assert record.state is RunState.SUCCEEDED, record
    made = next(t.result for t in record.tasks if t.path == "create")
    return Key(made["access"], secret_file.read_text().strip())


@contextmanager
def signed_at(offset_seconds: float) -> Iterator[None]:
    """botocore signs as if its clock were ``offset_seconds`` off."""
    real = botocore.auth.get_current_datetime

    def shifted(*args: Any, **kwargs: Any) -> datetime.datetime:
        return real(*args, **kwargs) + datetime.timedelta(seconds=offset_seconds)

    botocore.auth.get_current_datetime = shifted
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = real


def signed_nova_request(devcloud: Layout, key: Key, path: str = "/v2.1/servers") -> requests.PreparedRequest:
    """A GET of nova's API signed by botocore's SigV4Auth (Host added: the signer omits it)."""
    url = f"http://127.0.0.1:{devcloud.region('source').nova_port}{path}"
    req = AWSRequest(method="GET", url=url)
    botocore.auth.SigV4Auth(Credentials(key.access, key.secret), "compute", "source").add_auth(req)
    headers = dict(req.headers.items())
    headers["Host"] = f"127.0.0.1:{devcloud.region('source').nova_port}"
    return requests.Request("GET", url, headers=headers).prepare()


def send(prepared: requests.PreparedRequest) -> requests.Response:
    """Send a prepared request as it is."""
    with requests.Session() as session:
        return session.send(prepared, timeout=60)


def s3(devcloud: Layout, key: Key) -> Any:
    """A boto3 S3 client on the devcloud's Swift with ``key`` (no retries: refusals show at once)."""
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{devcloud.swift_proxy_port}",
                        aws_access_key_id=key.access, aws_secret_access_key=key.secret,
                        region_name=devcloud_auth.S3_REGION,
                        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"},
                                                      s3={"addressing_style": "path"}))
