"""Steps of the quick checks: free, create nothing."""

from support import checks
from support.gherkin import steps


@steps("the server says which journeys it can run", "o servidor diz quais jornadas pode rodar")
def server_readiness(context):
    """Asks once each for offers, the balance and the snapshots: a prerequisite the server lacks (its provider
    key, the account's, a restic repository, failover routes that do something) is reported per journey,
    in the server's words, without failing the quick checks."""
    checks.readiness(context.journey)


@steps("my balance is shown", "meu saldo é exibido")
def balance_is_shown(context):
    """GET /balance answers a numeric credit."""
    checks.balance(context.journey)


@steps("there are GPU offers among the allowed GPUs", "há ofertas de GPU entre as GPUs permitidas")
def gpu_offers_exist(context):
    """At least one offer for an allowed GPU under the price cap."""
    checks.gpu_offers(context.journey)


@steps("there are CPU offers for standby machines", "há ofertas de CPU para máquinas de standby")
def cpu_offers_exist(context):
    """At least one CPU-only offer (num_gpus=0)."""
    checks.cpu_offers(context.journey)


@steps("nothing was created", "nada foi criado")
def nothing_created(context):
    """No machine carries this scenario's label."""
    checks.nothing_created(context.journey)
