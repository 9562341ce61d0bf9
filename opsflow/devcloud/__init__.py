"""The simulated cloud: real OpenStack services on loopback whose hypervisors are opsflow's simulator.

``bringup.up`` builds it (``opsflow devcloud up``); ``layout`` says where everything lives.
"""
