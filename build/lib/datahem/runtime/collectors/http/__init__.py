"""The HTTP collector (an ASGI app for Cloud Run): routing by path, per-route auth, CORS, limits, payload shapes."""
