"""Towers: one copy of the training model per device (each GPU, or ``--cpu_towers`` virtual CPUs), sharing the
CPU-resident variables, with their gradients averaged into one optimizer step (DeepSpeech's multi-GPU scheme)."""
from .tfcompat import tf


def available_devices(runtime):
    """One tower per visible GPU, or the CPU (``--cpu_towers N``: N virtual CPU devices)."""
    if runtime.cpu_towers > 1:
        return ["/cpu:{}".format(index) for index in range(runtime.cpu_towers)]
    from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
    gpus = [d.name for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    return gpus or ["/cpu:0"]


def tower_gradients(devices, optimizer, tower_loss):
    """Build ``tower_loss()`` (``(mean loss, per-sample losses, non-finite files)`` of the next batch) once per
    device; returns the gradients of the trainable variables averaged over the towers, and each tower's loss and
    non-finite files. Only trainable variables enter ``compute_gradients``, so frozen layers get no gradient."""
    tower_grads, tower_losses, tower_non_finite = [], [], []
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope()):
        for index, device in enumerate(devices):
            with tf.device(device), tf.compat.v1.name_scope("tower_{}".format(index)):
                loss, _, non_finite = tower_loss()
                tf.compat.v1.get_variable_scope().reuse_variables()
                tower_grads.append(optimizer.compute_gradients(loss, var_list=tf.compat.v1.trainable_variables()))
                tower_losses.append(loss)
                tower_non_finite.append(non_finite)
    grads = tower_grads[0] if len(tower_grads) == 1 else average_gradients(tower_grads)
    return grads, tower_losses, tower_non_finite


def average_gradients(tower_grads):
    """Mean of each variable's gradient over the towers, computed on the CPU."""
    averaged = []
    with tf.device("/cpu:0"), tf.compat.v1.name_scope("average_gradients"):  # one name for benchmarks to count
        for grads_and_vars in zip(*tower_grads):
            grads = [grad for grad, _ in grads_and_vars if grad is not None]
            mean = tf.reduce_mean(input_tensor=tf.stack(grads, 0), axis=0) if grads else None
            averaged.append((mean, grads_and_vars[0][1]))
    return averaged
