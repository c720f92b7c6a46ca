"""The Dumont Cloud API, mounted under /api/v1 and /api: one module per group of routes."""
