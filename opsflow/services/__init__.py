"""Runners for the real services opsflow's tests, benchmarks and demos start on loopback.

Each runner starts a server from what the Debian packages installed by ``tools/install-services``
put on disk; it installs nothing itself, so a missing package is reported with the fix instead of
being fetched behind the operator's back.
"""
