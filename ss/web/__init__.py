"""The HTTP side: the Tornado application, the HTTP API, cookies, middleware, static files and HTTPS."""
