# Custom HTTP middleware: every request goes through these callables, in order,
# before ss serves the page, the files, the HTTP API or the WebSocket.
# A step is `(request, response, next)` (plain or async): call next() to pass
# on, or answer with response.finish(...) / response.redirect(url). `request` is
# Tornado's HTTPServerRequest (.path, .headers, .query_arguments, .body).
# Modules from lib/server can be listed too (their `call` function is the step),
# by module or by name. See docs/middleware.md in the ss repository.
#
# import logging
#
# def log_user_agent(request, response, next):
#     logging.getLogger("myapp").info("User Agent is: %s", request.headers.get("User-Agent"))
#     next()
#
# async def health_check(request, response, next):
#     if request.path == "/health":
#         response.finish({"ok": True})
#     else:
#         next()
#
# middleware = [log_user_agent, health_check, "my_middleware"]   # lib/server/my_middleware.py

middleware = []
