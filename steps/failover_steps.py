"""Steps of the failover journey: standby, failure, failover, failback."""

from support import spending, standby
from support.gherkin import steps
from support.spending import ANY_GPU, GPU, STANDBY, Spends


@steps("the balance covers the failover journey's maximum cost",
       "que o saldo cobre o custo máximo da jornada de failover")
def balance_covers_failover_journey(context):
    """Refuses early when the balance or what is left of the budget is below the scenario's worst case:
    the GPU, its standby and the failback's GPU (the guard at the point of spending checks it again)."""
    spending.early_check(context.journey, context.run.client)


@steps("CPU standby is enabled with automatic failover", "que o standby de CPU está ativado com failover automático")
def standby_auto_failover(context):
    """Turns CPU standby on for the account with auto-failover (settings restored at cleanup)."""
    standby.configure(context.journey, auto_failover=True)


@steps("CPU standby is enabled without automatic failover",
       "que o standby de CPU está ativado sem failover automático")
def standby_manual_failover(context):
    """Turns CPU standby on, failover only on request (settings restored at cleanup)."""
    standby.configure(context.journey, auto_failover=False)


@steps("I create an instance with a CPU standby from that offer",
       "eu crio uma instância com standby de CPU com essa oferta", Spends(rents=(GPU, STANDBY), limits=("create",)))
def create_with_standby(context):
    """Creates the GPU instance and lets the server pair a CPU standby with it."""
    standby.create_with_standby(context.journey)


@steps("its CPU standby is syncing", "seu standby de CPU está sincronizando", Spends(limits=("failover",)))
def standby_syncing(context):
    """Waits for the standby association to reach state "syncing"."""
    standby.wait_syncing(context.journey)


@steps("I write a data set of {files:d} files of {size:d} KB",
       "eu gravo um conjunto de dados de {files:d} arquivos de {size:d} KB", Spends(limits=("model_install",)))
def write_dataset(context, files, size):
    """Writes random files under $WORKSPACE/dataset and records each file's sha256."""
    standby.write_data(context.journey, files, size * 1024)


@steps("the data set reaches the standby intact", "o conjunto de dados chega íntegro ao standby",
       Spends(limits=("failover", "ssh")))
def dataset_on_standby(context):
    """Waits for a sync that began after the writes, then re-hashes the data set on the standby."""
    standby.check_dataset_on_standby(context.journey)


@steps("I keep writing canary files and the GPU fails", "eu continuo gravando arquivos canário e a GPU falha",
       Spends(limits=("failover", "pause"), then="paused"))
def canaries_then_failure(context):
    """Writes canary files until a sync has taken some of them, then pauses the GPU (the simulated failure)."""
    standby.write_canaries_then_fail(context.journey)


@steps("I ask for the failover", "eu peço o failover")
def ask_for_failover(context):
    """POST /instances/{id}/failover (a stub on the real server: the journey fails there, saying so)."""
    standby.request_failover(context.journey)


@steps("the standby takes over within the failover time limit", "o standby assume dentro do tempo limite de failover",
       Spends(limits=("failover", "failover")))
def standby_takes_over(context):
    """Waits for "failover_active", then for the standby's SSH with the data set verified."""
    standby.wait_failover(context.journey)


@steps("the standby has the model and the data set intact", "o standby tem o modelo e o conjunto de dados íntegros")
def standby_has_everything(context):
    """Re-hashes the model's files on the standby."""
    standby.check_model_on_standby(context.journey)


@steps("the data lost since the last sync is at most {seconds:d} seconds of writes",
       "os dados perdidos desde a última sincronização somam no máximo {seconds:d} segundos de gravações")
def data_loss_at_most(context, seconds):
    """Reports the RPO (seconds and bytes lost) and fails if the window exceeds the given real seconds."""
    standby.check_rpo_within(context.journey, seconds)


@steps("the data lost since the last sync is reported", "os dados perdidos desde a última sincronização são informados")
def data_loss_reported(context):
    """Reports the RPO: bytes and files written after the last completed sync, and the time window."""
    standby.report_data_loss(context.journey)


@steps("I fail back to a GPU", "eu faço o failback para uma GPU",
       Spends(rents=(ANY_GPU,), limits=("failover", "ssh"), then="resumed"))
def fail_back(context):
    """POST /instances/{id}/failback, then waits for a GPU serving SSH with the data set verified."""
    standby.fail_back(context.journey)


@steps("the GPU has the data set intact", "a GPU tem o conjunto de dados íntegro", Spends(limits=("ssh",)))
def gpu_has_dataset(context):
    """Re-hashes the data set on the GPU after failback."""
    standby.check_dataset_on_gpu(context.journey)


@steps("the total recovery time is reported", "o tempo total de recuperação é informado")
def recovery_reported(context):
    """failure, detect, failover, failback and total recovery times are in the metrics."""
    standby.check_recovery_reported(context.journey)
