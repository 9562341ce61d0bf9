"""opsflow's service API and dashboard: WSGI behind keystonemiddleware, oslo.policy, JSON ``/v1``.

* :mod:`.app` -- the router (webob + routes) and JSON errors (:mod:`.faults`);
* resources, one module each: :mod:`.versions`, :mod:`.flows`, :mod:`.jobs`, :mod:`.forklift`,
  :mod:`.dashboard`; :mod:`.openapi` describes them;
* :mod:`.policy` (rules), :mod:`.context` (who asks), :mod:`.ownership` (whose job it is);
* :mod:`.server` -- the paste pipeline and the process that serves it (``opsflow api``).
"""
