"""Several server processes as one central system: presence and command routing over Redis.

Loaded only when ``cluster.redis_url`` is set; a single process never imports it.
"""
