"""Engines: the engine factory, persistence backends, jobboard and listeners that run flows."""
