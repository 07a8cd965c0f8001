"""The agent's HTTP surface: server, routes, status API, control-plane API, webhooks and the page."""
