"""Packaging lives in pyproject.toml; this shim keeps ``pip install -e .`` working on old pips."""
import setuptools

setuptools.setup()
