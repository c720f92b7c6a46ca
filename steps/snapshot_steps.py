"""Steps of the snapshot/restore journey (the instance steps do the rest)."""

from support import snapshots, spending
from support.gherkin import steps
from support.spending import GPU, Spends


@steps("the balance covers the snapshot journey's maximum cost",
       "que o saldo cobre o custo máximo da jornada de snapshot")
def balance_covers_snapshot_journey(context):
    """Refuses early when the balance or what is left of the budget is below the scenario's worst case:
    both machines' lives (the guard at the point of spending checks it again, whatever the steps)."""
    spending.early_check(context.journey, context.run.client)


@steps("I restore the snapshot on a new instance", "eu restauro o snapshot numa nova instância",
       Spends(rents=(GPU,), limits=("create", "running", "ssh", "restore", "model_install")))
def restore_on_new_instance(context):
    """Rents a new machine like the first, waits for it to run and restores the snapshot into it."""
    snapshots.restore_on_new_instance(context.journey)


@steps("the restore time, snapshot size and throughput are reported",
       "o tempo de restauração, o tamanho do snapshot e a vazão são informados")
def restore_metrics_reported(context):
    """time_to_restore, the snapshot's size and bytes per second are in the metrics."""
    snapshots.check_reported(context.journey)
