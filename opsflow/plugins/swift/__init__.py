"""opsflow's Swift proxy middleware: the access-key check between ``s3api`` and ``s3token``."""
