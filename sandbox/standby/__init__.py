"""CPU standby: a CPU machine paired with a GPU instance, kept in sync, failed over to and back."""
