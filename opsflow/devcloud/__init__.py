"""opsflow's simulated cloud on loopback: the services `opsflow devcloud` starts and stops."""
