"""Access keys against the devcloud's real Keystone, Nova and Swift (S3 API)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import requests
from click.testing import CliRunner

from opsflow.cli import main
from opsflow.devcloud import auth as devcloud_auth
from opsflow.devcloud.layout import Layout
from opsflow.plugins.keystone.access_keys import credential_id
from tests.functional.auth import keys
from tests.functional.auth.conftest import User, reason

pytestmark = pytest.mark.functional


def _s3_error(call: Callable[[], Any]) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return str(caught.value.response["Error"].get("Message", ""))


def _s3_refusal(call: Callable[[], Any]) -> str:
    """The error message of ``call``, or "" while it still succeeds (a poll waiting for a refusal)."""
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        return str(exc.response["Error"].get("Message", ""))
    return ""


def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def test_cli_creates_a_key_and_shows_its_secret_once(make_user: Callable[..., User], tmp_path: Path) -> None:
    """`opsflow keys create` prints the key and its secret; `keys list` shows it without the secret."""
    user = make_user()
    state = f"sqlite:///{tmp_path}/state.db"
    made = CliRunner().invoke(main, ["keys", "create", "--os-cloud", user.cloud, "--expires", "30d",
                                     "--description", "ci", "--state", state])
    assert made.exit_code == 0, made.output
    access = made.output.split("access key:")[1].split()[0]
    secret = made.output.split("secret:")[1].split()[0]
    listed = CliRunner().invoke(main, ["keys", "list", "--os-cloud", user.cloud, "-f", "json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["access"] for r in rows] == [access] and rows[0]["status"] == "active"
    assert secret not in listed.output


def test_signed_nova_call_gets_through(make_user: Callable[..., User], devcloud: Layout, tmp_path: Path) -> None:
    """A nova API call signed by botocore's SigV4Auth with the key is answered as the key's owner."""
    key = keys.create(make_user().cloud, tmp_path)
    resp = keys.send(keys.signed_nova_request(devcloud, key))
    assert resp.status_code == 200, resp.text
    assert "servers" in resp.json()


def test_boto3_lists_a_bucket_through_swift(make_user: Callable[..., User], devcloud: Layout,
                                            tmp_path: Path) -> None:
    """boto3 creates a bucket, puts an object and lists it through Swift's S3 API with the key."""
    client = keys.s3(devcloud, keys.create(make_user().cloud, tmp_path))
    bucket = f"auth-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    listed = client.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["hello.txt"]
    client.delete_object(Bucket=bucket, Key="hello.txt")
    client.delete_bucket(Bucket=bucket)


def test_bad_requests_are_refused_with_their_reason(make_user: Callable[..., User], devcloud: Layout,
                                                    tmp_path: Path) -> None:
    """Unknown, tampered, replayed and far-future signed requests are refused, each naming why."""
    key = keys.create(make_user().cloud, tmp_path)
    unknown = keys.send(keys.signed_nova_request(devcloud, keys.Key("0" * 32, "x")))
    assert unknown.status_code == 401 and reason(unknown) == "access_key_unknown"
    tampered = keys.signed_nova_request(devcloud, key)
    tampered.url = str(tampered.url).replace("/servers", "/flavors")
    resp = keys.send(tampered)
    assert resp.status_code == 401 and reason(resp) == "signature_mismatch"
    once = keys.signed_nova_request(devcloud, key)
    assert keys.send(once).status_code == 200
    replay = keys.send(once)
    assert replay.status_code == 401 and reason(replay) == "signature_replayed"
    with keys.signed_at(86400):
        ahead = keys.send(keys.signed_nova_request(devcloud, key))
    assert ahead.status_code == 401 and reason(ahead) == "request_time_skewed"
    client = keys.s3(devcloud, key)
    with keys.signed_at(600):  # within s3api's own 15 minutes, beyond opsflow's 5
        assert "request_time_skewed" in _s3_error(client.list_buckets)
    assert "access_key_unknown" in _s3_error(keys.s3(devcloud, keys.Key("0" * 32, "x")).list_buckets)


def test_expired_key_is_refused(make_user: Callable[..., User], admin: Any, devcloud: Layout,
                                tmp_path: Path) -> None:
    """A key past its expiry is refused by nova's filter and by Swift's S3 API, naming the expiry."""
    user = make_user()
    key = keys.create(user.cloud, tmp_path, expires="1m")
    cred = admin.identity.get(f"/credentials/{credential_id(key.access)}").json()["credential"]
    blob = json.loads(cred["blob"])
    blob["expires_at"] = time.time() - 1
    admin.identity.patch(f"/credentials/{cred['id']}", json={"credential": {"blob": json.dumps(blob)}})
    assert _until(lambda: reason(keys.send(keys.signed_nova_request(devcloud, key))) == "access_key_expired",
                  devcloud_auth.KEY_CACHE_SECONDS + 10)
    assert "access_key_expired" in _s3_error(keys.s3(devcloud, key).list_buckets)


def test_revocation_takes_effect_within_the_cache_time(make_user: Callable[..., User], devcloud: Layout,
                                                       tmp_path: Path) -> None:
    """After `keys revoke`, S3 and nova refuse the key within the filters' cache time, s3token's cache or not."""
    user = make_user()
    key = keys.create(user.cloud, tmp_path)
    client = keys.s3(devcloud, key)
    client.list_buckets()  # warms every cache: opsflow's, s3token's secret cache
    assert keys.send(keys.signed_nova_request(devcloud, key)).status_code == 200
    revoked = CliRunner().invoke(main, ["keys", "revoke", key.access, "--os-cloud", user.cloud,
                                        "--state", f"sqlite:///{tmp_path}/state.db"])
    assert revoked.exit_code == 0, revoked.output
    started = time.monotonic()
    assert _until(lambda: "access_key_revoked" in _s3_refusal(client.list_buckets),
                  devcloud_auth.KEY_CACHE_SECONDS + 5)
    assert _until(lambda: reason(keys.send(keys.signed_nova_request(devcloud, key))) == "access_key_revoked",
                  devcloud_auth.KEY_CACHE_SECONDS + 5)
    assert time.monotonic() - started <= devcloud_auth.KEY_CACHE_SECONDS + 5


def test_keys_without_expiry_are_refused_at_creation(make_user: Callable[..., User], tmp_path: Path) -> None:
    """This cloud allows no key that never expires, nor one beyond its maximum lifetime."""
    user = make_user()
    for expires in ("never", "400d"):
        made = CliRunner().invoke(main, ["keys", "create", "--os-cloud", user.cloud, "--expires", expires,
                                         "--state", f"sqlite:///{tmp_path}/state.db"])
        assert made.exit_code == 1 and "expir" in str(made.exception), made.output


def test_s3_refuses_tampered_and_replayed_requests(make_user: Callable[..., User], devcloud: Layout,
                                                   tmp_path: Path) -> None:
    """Through Swift's S3 API, boto3 requests changed after signing get SignatureDoesNotMatch, and a
    signed request sent a second time gets AccessDenied, each naming the reason; the original works."""
    client = keys.s3(devcloud, keys.create(make_user().cloud, tmp_path))
    bucket = f"auth-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    sent: list[Any] = []

    def tamper(request: Any, **_: Any) -> None:
        request.url += "&prefix=other"  # after signing: the signature covers the query without it

    def keep(request: Any, **_: Any) -> None:
        sent.append((request.method, request.url, dict(request.headers.items()), request.body))

    try:
        client.meta.events.register("before-send.s3.ListObjectsV2", tamper)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            client.list_objects_v2(Bucket=bucket)
        error = caught.value.response["Error"]
        assert error["Code"] == "SignatureDoesNotMatch" and "signature_mismatch" in error["Message"]
        client.meta.events.unregister("before-send.s3.ListObjectsV2", tamper)

        client.meta.events.register("before-send.s3.ListObjectsV2", keep)
        client.list_objects_v2(Bucket=bucket)  # the original request is answered
        method, url, headers, body = sent[-1]
        replay = requests.request(method, url, headers=headers, data=body, timeout=60)
        assert replay.status_code == 403, replay.text
        assert "<Code>AccessDenied</Code>" in replay.text and "signature_replayed" in replay.text
    finally:
        client.meta.events.unregister("before-send.s3.ListObjectsV2", keep)
        client.delete_bucket(Bucket=bucket)
