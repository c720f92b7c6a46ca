"""The HTTP surface: the FastAPI app, public and admin routes, the request gateway and the rate limiter."""
