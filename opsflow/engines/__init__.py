"""Running compiled flows: atoms, engines, persistence backends and listeners."""
