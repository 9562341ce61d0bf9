"""Code that runs inside other systems (nova-compute, neutron-server, keystone)."""
