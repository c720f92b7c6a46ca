"""Steps every journey shares: the service is up and we are logged in."""

from support import checks
from support.gherkin import steps


@steps("the Dumont Cloud API is healthy", "que a API da Dumont Cloud está saudável")
def api_is_healthy(context):
    """GET /health answers "healthy" (no login needed)."""
    checks.healthy(context.journey)


@steps("I am logged in", "que estou autenticado")
def logged_in(context):
    """Logs in with TEST_USER / TEST_PASSWORD and keeps the bearer token."""
    checks.logged_in(context.journey)
