"""The control-plane ramp-up: add simulated hypervisors in steps, load the APIs, stop at the SLO breach.

``definitions/simulator-rampup.yaml`` runs one ``simulator-step.yaml`` per step of a ramp profile
(:mod:`opsflow.simulate.profile`): grow the region to the step's hypervisors, boot and delete
servers at the step's rate while timing every call (:mod:`opsflow.simulate.load`), sample the
broker, the database and every service process (:mod:`opsflow.simulate.probes`), and judge the
step against the SLO (:mod:`opsflow.simulate.verdict`). A breach ends the ramp: later steps find
it in the step records and do nothing. The report (:mod:`opsflow.simulate.report`) names the first
bottleneck with its evidence and plots every measure against the number of hypervisors.
"""
