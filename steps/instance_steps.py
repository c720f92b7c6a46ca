"""Steps of the instance journey: rent, use, snapshot, pause, resume, delete."""

from support import checks, gpu_check, instances, models, snapshots, spending
from support.gherkin import steps
from support.spending import GPU, Spends


@steps("the cheapest offer among the allowed GPUs", "a oferta mais barata entre as GPUs permitidas")
def cheapest_offer(context):
    """Searches offers and picks the cheapest allowed GPU under the price cap."""
    instances.cheapest_offer(context.journey)


@steps('the cheapest offer for a "{gpu}"', 'a oferta mais barata de uma "{gpu}"')
def cheapest_offer_for(context, gpu):
    """Like the cheapest allowed offer, for one GPU model; refused if DUMONT_ALLOWED_GPUS does not allow it."""
    instances.cheapest_offer(context.journey, gpu)


@steps("the balance covers the instance journey's maximum cost",
       "que o saldo cobre o custo máximo da jornada de instância")
def balance_covers_instance_journey(context):
    """Refuses early when the balance or what is left of the budget is below the scenario's worst case
    (the guard at the point of spending checks it again, whatever the steps)."""
    spending.early_check(context.journey, context.run.client)


@steps("I create an instance from that offer", "eu crio uma instância com essa oferta",
       Spends(rents=(GPU,), limits=("create",)))
def create_instance(context):
    """Creates the instance (label and ledger first, so it can always be found and deleted)."""
    instances.create(context.journey)


@steps("the instance is running within the time limit", "a instância fica em execução dentro do tempo limite",
       Spends(limits=("running",)))
def instance_running(context):
    """Waits for actual_status "running" (limit DUMONT_TIMEOUT_RUNNING); fails fast on exited/offline."""
    instances.wait_running(context.journey)


@steps("the instance is running again within the time limit",
       "a instância volta a ficar em execução dentro do tempo limite", Spends(limits=("resume",)))
def instance_running_again(context):
    """After a resume: waits for "running" again (limit DUMONT_TIMEOUT_RESUME)."""
    instances.wait_running(context.journey, phase="resume")


@steps("I can connect to it over SSH", "consigo me conectar a ela por SSH", Spends(limits=("ssh",)))
def can_connect_ssh(context):
    """Connects with the run's key as soon as SSH answers (limit DUMONT_TIMEOUT_SSH)."""
    instances.connect(context.journey)


@steps('I install the model "{model}"', 'eu instalo o modelo "{model}"', Spends(limits=("model_install",)))
def install_model(context, model):
    """Downloads the model on the instance and records each file's sha256."""
    models.install(context.journey, model)


@steps("the model's files match their checksums", "os arquivos do modelo conferem com seus checksums",
       Spends(limits=("model_install",)))
def model_intact(context):
    """Re-hashes the model's files on the instance; names any missing or corrupt file."""
    models.verify(context.journey)


@steps("the GPU works and the model answers", "a GPU funciona e o modelo responde", Spends(limits=("gpu_check",)))
def gpu_works(context):
    """Probes the machine over SSH: its GPU against the offer (nvidia-smi), its health, CUDA in its PyTorch, a timed
    half-precision matrix product against the advertised TFLOPS, and the installed model answering on the GPU."""
    gpu_check.check(context.journey)


@steps("I take a snapshot of the instance", "eu tiro um snapshot da instância", Spends(limits=("snapshot",)))
def take_snapshot(context):
    """Creates a snapshot of /workspace (synchronous), tagged with the run's label."""
    snapshots.take(context.journey)


@steps("the snapshot is listed with the run's label", "o snapshot aparece na lista com o rótulo da execução")
def snapshot_listed(context):
    """The snapshot list holds it, tagged with this run's label."""
    snapshots.check_listed(context.journey)


@steps("I pause the instance", "eu pauso a instância")
def pause_instance(context):
    """Asks for a pause (the disk is still billed while paused)."""
    instances.request_pause(context.journey)


@steps("the instance is stopped", "a instância fica parada", Spends(limits=("pause",), then="paused"))
def instance_stopped(context):
    """Waits for actual_status "stopped" — the server's word for paused."""
    instances.wait_stopped(context.journey)


@steps("I resume the instance", "eu retomo a instância", Spends(then="resumed"))
def resume_instance(context):
    """Asks for the paused instance to run again."""
    instances.request_resume(context.journey)


@steps("I delete the instance", "eu apago a instância", Spends(limits=("delete",), then="deleted"))
def delete_instance(context):
    """Deletes the instance and resends the delete if it lingers."""
    instances.delete(context.journey)


@steps("the instance is gone", "a instância deixa de existir")
def instance_gone(context):
    """GET on the instance answers 404."""
    instances.check_gone(context.journey)


@steps("every phase was timed and costed", "cada fase foi cronometrada e custeada")
def phases_timed_and_costed(context):
    """Each phase of the journey has a time, and the journey has a cost."""
    checks.phases_timed_and_costed(context.journey)
