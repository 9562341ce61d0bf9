"""opsflow: declarative, revertible, resumable flows for OpenStack operators."""
