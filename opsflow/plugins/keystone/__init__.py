"""opsflow's Keystone middleware: a TOTP second factor done right, and expiring access keys.

* :mod:`.totp_guard` sits in front of Keystone's token API (wrapped around Keystone 30's WSGI
  callable by :mod:`.wsgi`, or built by paste through :func:`.wsgi.filter_factory`): replay
  protection, lockout, enforcement before enrollment, drift window, recovery codes, clear reasons.
* :mod:`.credential_guard` keeps TOTP secrets write-only and access keys within the operator's
  maximum lifetime; :mod:`.enroll_page` is the browser page that enrolls a signed-in user.
* :mod:`.sigv4` is a paste filter for any OpenStack API (before ``authtoken``) that turns AWS
  Signature V4 requests made with opsflow access keys into Keystone tokens; the Swift S3 API's
  counterpart is :mod:`opsflow.plugins.swift.s3keys`.

Both halves share :mod:`.store` (memcached: replay and lockout state) and :mod:`.access_keys`.
"""
