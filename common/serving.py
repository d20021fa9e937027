"""How every component's HTTP server is run, wherever it runs (`make run`, the tests, the image).

uvicorn closes an idle keep-alive connection after 5 s by default, while the gateway's and the
services' clients keep theirs longer: a request sent on a connection at the moment the server
closes it is lost ("server disconnected"). The servers keep idle connections longer than any
client of the platform does, so the client always closes first.
"""

SERVER_KEEPALIVE_SECONDS = 75
"""Seconds a component keeps an idle connection open (also longer than a load balancer's usual
60 s idle timeout, for the same reason)."""

SERVER_ENVIRONMENT = {"UVICORN_TIMEOUT_KEEP_ALIVE": str(SERVER_KEEPALIVE_SECONDS)}
"""What uvicorn reads from its environment (its options' `UVICORN_` variables)."""
