"""Steps of the snapshot/restore journey (the instance steps do the rest)."""

from support import instances, snapshots
from support.gherkin import steps


@steps("the balance covers the snapshot journey's maximum cost",
       "que o saldo cobre o custo máximo da jornada de snapshot")
def balance_covers_snapshot_journey(context):
    """Refuses when balance or budget is below price × the time limits of two machines' lives."""
    instances.check_balance_covers(context.journey, context.run.config.timeouts.total_for_snapshot_journey())


@steps("I restore the snapshot on a new instance", "eu restauro o snapshot numa nova instância")
def restore_on_new_instance(context):
    """Rents a new machine like the first, waits for it to run and restores the snapshot into it."""
    snapshots.restore_on_new_instance(context.journey)


@steps("the restore time, snapshot size and throughput are reported",
       "o tempo de restauração, o tamanho do snapshot e a vazão são informados")
def restore_metrics_reported(context):
    """time_to_restore, the snapshot's size and bytes per second are in the metrics."""
    snapshots.check_reported(context.journey)
