"""Steps of the quick checks: free, create nothing."""

from support import checks
from support.gherkin import steps


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
