"""opsflow's ML2 mechanism driver for the simulated cloud (see ``mech_sim``)."""
