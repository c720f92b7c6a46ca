"""The sandbox-only routes under /_sandbox: admin routes (X-Sandbox-Admin-Token) and the public
model mirror."""
