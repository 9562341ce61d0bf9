"""TOTP passcodes, recovery codes and the enrollment record, without any service."""

from __future__ import annotations

import pyotp

from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp

NOW = 1_800_000_000.0


def test_passcode_of_the_current_step_matches_what_pyotp_shows() -> None:
    """A passcode an RFC 6238 app shows now matches, and names the current step."""
    secret = otp.new_secret()
    code = pyotp.TOTP(secret).at(NOW)
    match = otp.match_passcode([secret], code, NOW, 1, 1)
    assert match is not None and match.counter == int(NOW) // 30


def test_drift_window_is_configurable_both_ways() -> None:
    """A code one step ahead matches with drift_future=1 and not with 0; two steps back needs drift_past=2."""
    secret = otp.new_secret()
    ahead, behind = otp.passcode_at(secret, NOW + 30), otp.passcode_at(secret, NOW - 60)
    assert otp.match_passcode([secret], ahead, NOW, 0, 1) is not None
    assert otp.match_passcode([secret], ahead, NOW, 1, 0) is None
    assert otp.match_passcode([secret], behind, NOW, 2, 0) is not None
    assert otp.match_passcode([secret], behind, NOW, 1, 0) is None


def test_match_names_the_secret_of_the_device() -> None:
    """With two devices, the match says which secret the code came from."""
    one, two = otp.new_secret(), otp.new_secret()
    match = otp.match_passcode([one, two], otp.passcode_at(two, NOW), NOW, 0, 0)
    assert match is not None and match.secret_index == 1


def test_malformed_passcodes_never_match() -> None:
    """Anything but six digits is refused before any comparison."""
    secret = otp.new_secret()
    for bad in ("", "12345", "1234567", "abcdef", " 12345"):
        assert otp.match_passcode([secret], bad, NOW, 1, 1) is None


def test_recovery_codes_match_their_hash_only() -> None:
    """A recovery code matches its stored hash (case and dashes aside) and no other code does."""
    codes = otp.generate_recovery_codes(8)
    hashes = [otp.hash_recovery_code(c) for c in codes]
    assert len(set(codes)) == 8 and all(otp.is_recovery_code(c) for c in codes)
    assert otp.match_recovery_code(hashes, codes[3].lower().replace("-", "")) == hashes[3]
    assert otp.match_recovery_code(hashes, otp.generate_recovery_codes(1)[0]) is None
    assert not otp.is_recovery_code("123456")


def test_provisioning_uri_is_a_standard_otpauth_uri() -> None:
    """The QR code's URI is otpauth://totp with secret and issuer, which pyotp parses back."""
    secret = otp.new_secret()
    uri = otp.provisioning_uri(secret, "alice", "OpenStack")
    assert uri.startswith("otpauth://totp/OpenStack:alice?")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.issuer == "OpenStack"


def test_enrollment_record_round_trips_and_activation_moves_the_secret_out() -> None:
    """A pending record keeps the secret; activated() clears it and stores only recovery hashes."""
    pending = enr.Enrollment(enr.EnrollmentState.PENDING, secret=otp.new_secret(), tag="t")
    assert enr.Enrollment.from_blob(pending.to_blob()) == pending
    active = enr.activated(pending, "cred-1", ["AAAA-BBBB-CCCC-DDDD"], NOW)
    assert active.state is enr.EnrollmentState.ACTIVE and active.secret == ""
    assert active.recovery == (otp.hash_recovery_code("AAAA-BBBB-CCCC-DDDD"),)
    assert "AAAA" not in active.to_blob()


def test_passcodes_equal_pyotps_for_any_secret_length_and_time() -> None:
    """The passcodes computed here (without pyotp's per-step base32 decoding) are pyotp's, for
    generated secrets and for shorter, unpadded, lower-case ones other tools store."""
    secrets_ = [otp.new_secret() for _ in range(20)] + ["JBSWY3DPEHPK3PXPJBSWY3DP", otp.new_secret()[:26].lower()]
    for i, secret in enumerate(secrets_):
        for when in (0.0, 59.0, NOW + i * 997, 2_000_000_000.5):
            assert otp.passcode_at(secret, when) == pyotp.TOTP(secret).at(int(when))


def test_match_hands_on_the_current_steps_passcode() -> None:
    """A code from a step ahead matches, and the match carries what the device shows now."""
    secret = otp.new_secret()
    match = otp.match_passcode([secret], otp.passcode_at(secret, NOW + 30), NOW, 1, 1)
    assert match is not None and match.current == pyotp.TOTP(secret).at(int(NOW))
