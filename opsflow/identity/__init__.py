"""opsflow's side of the auth features: Keystone calls, QR codes and durations for the TOTP and
access-key actions (:mod:`opsflow.tasks.identity`) and commands (:mod:`opsflow.cli_auth`).

The middleware that runs inside Keystone and Swift is in :mod:`opsflow.plugins.keystone` and
:mod:`opsflow.plugins.swift`; the record formats both sides share live there too.
"""
