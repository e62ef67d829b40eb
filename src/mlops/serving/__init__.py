"""Serving: the BentoML service, its contract-derived input schema, and the prediction log.

What runs in the container lives here; the deploying side (mlops.deploy) imports from it, never the reverse.
"""

# The server a deploy starts gets a nonce of its own (env NONCE_ENV) and the service stamps it on every
# answer (header SERVER_HEADER, serving/guard.py): the deploy's smoke test then knows it verified that very
# process, not an orphan of an earlier server still holding the port (mlops.deploy.smoke).
NONCE_ENV = "MLOPS_SERVER_NONCE"
SERVER_HEADER = "X-MLOPS-Server"

# A deploy's smoke test marks its own requests (header TRAFFIC_HEADER: SMOKE_TRAFFIC); the service logs them
# with `"traffic": "smoke"` and the drift job and the retrain extract leave them out (counted): twenty golden
# rows replayed a hundred times are not production traffic.
TRAFFIC_HEADER = "X-MLOPS-Traffic"
SMOKE_TRAFFIC = "smoke"
