"""The cluster DNS pod's program (image ``podnet/dns``): UDP/TCP server, records file, metrics.

Every answer comes from :func:`podnet.control.dns.resolve`; this package only carries
it to and from the wire. Design notes: ``README.md`` beside this file.
"""
