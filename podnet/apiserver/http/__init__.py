"""The HTTPS front of the API (aiohttp): ``app`` (ApiServer, ServerThread), ``routes``,
``negotiate``, ``handlers``, ``watch``, ``fields``."""
