"""agnhost, the Kubernetes e2e test image, re-implemented for podnet.

``registry.k8s.io/e2e-test-images/agnhost`` is one binary with subcommands
(kubernetes ``test/images/agnhost``). podnet implements the ones network tests use,
with upstream's flags, defaults, output and exit codes:

* ``serve-hostname`` (``--http`` default true, ``--tcp``, ``--udp``, ``--port`` 9376,
  ``--close``): answers every request with the hostname;
* ``netexec`` (``--http-port`` 8080, ``--udp-port`` 8081): HTTP ``/``, ``/hostname``,
  ``/echo?msg=&code=``, ``/clientip``, ``/dial?host=&port=&request=&protocol=&tries=``,
  ``/shell?cmd=``, ``/healthz``, ``/exit?code=``; UDP ``hostname`` / ``echo MSG`` /
  ``clientip``;
* ``connect HOST:PORT [--timeout 1s] [--protocol tcp|udp|sctp]``: exit 0 on success,
  else 1 with ``TIMEOUT`` / ``REFUSED`` / ``DNS: ...`` / ``OTHER: ...`` on stderr;
* ``porter``: serves each ``SERVE_PORT_N`` / ``SERVE_TCP_PORT_N`` (HTTP),
  ``SERVE_UDP_PORT_N`` value on port N (``SERVE_TLS_PORT_N`` needs a certificate and
  ``SERVE_SCTP_PORT_N`` kernel SCTP: both are reported and skipped);
* ``pause``: sleeps until terminated.

Differences from upstream, on purpose: after SIGTERM the servers exit at once instead
of sleeping 60s "awaiting pod deletion" (that only slows podnet's pod stop).
"""
