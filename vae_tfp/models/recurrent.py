"""A fast LSTM for the CPU: the tf_keras LSTM's computation, with the weights of its cell.

The LSTM of ``tf_keras.layers.LSTM`` (Hochreiter & Schmidhuber 1997, with forget gates as in
Gers et al. 2000; gate order i, f, c, o; sigmoid gates, tanh cell input and output):

    z_t = x_t K + h_{t-1} R + b,     [i, f, g, o] = [sig, sig, tanh, sig](z_t),
    c_t = f * c_{t-1} + i * g,       h_t = o * tanh(c_t).

tf_keras runs this on the CPU as a ``while_loop`` of small ops, with gradients from the
loop's autodiff; its fused kernels are for GPUs only. Here the same computation is arranged
as cuDNN arranges it:

- the input part x_t K + b of every step is one matrix product before the loop (and a part
  of the input that is the same at every step, like the decoder's z, is projected once);
- the loop body has one matrix product, h_{t-1} R, and keeps the gate activations;
- the backward pass is written out (back-propagation through time): its loop has one
  matrix product, dz_t R^T, and dR = sum_t h_{t-1}^T dz_t is one product after it, as is
  the gradient of the input projection, which autodiff derives from dz;
- both loops are compiled by XLA, once per shape, also inside a step that is not.

Without a recording tape (evaluation) the loop keeps only the states, not what the backward
pass needs. A gradient taken while another tape records (a gradient of a gradient, as
SA-VAE's refinement needs) comes from plain ``tf.scan`` ops, which that tape differentiates.

:func:`lstm_states` takes the cell of a built ``tf_keras.layers.LSTM`` and reads its
``kernel``, ``recurrent_kernel`` and ``bias``: the layer stays the owner of the weights
(their initialisation and checkpoint names do not change) and its own call remains the
reference computation that the tests compare against.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.eager import record
from tensorflow.python.ops import control_flow_util


def in_xla_context() -> bool:
    """Whether the op being built is compiled by XLA (``jit_compile``), where every shape
    must be static (TensorFlow Probability's ``implementation_selection.is_xla`` test)."""
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def build_layer(layer, input_shape) -> None:
    """Creates a ``tf_keras`` layer's weights now, named as its first call would name them."""
    with tf.name_scope(layer.name):
        layer.build(input_shape)


def time_major_dropout_mask(
    shape: tf.Tensor, rate: float, seed: tf.Tensor, steps: tf.Tensor
) -> tf.Tensor:
    """``stateless_dropout``'s scaled keep-mask for a batch-major [B, L, D] batch as given,
    cut to its first ``steps`` positions and made time-major, [steps, B, D]: the noise of a
    position does not depend on where the batch is cut."""
    mask = tf.nn.experimental.stateless_dropout(tf.ones(shape), rate, seed)
    return tf.transpose(mask[:, :steps], [1, 0, 2])


def _gates(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    i, f, g, o = tf.split(z, 4, axis=-1)
    return tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)


@tf.function(autograph=False, jit_compile=True, reduce_retracing=True)
def _forward(projected, recurrent_kernel, h0, c0, keep: bool = True):
    """The recurrence over time-major ``projected`` [T, B, 4H]: states h [T, B, H] and, to
    ``keep`` for the backward pass, cells c [T, B, H] and gate activations [T, B, 4H]."""
    steps = tf.shape(projected)[0]
    arrays = [tf.TensorArray(projected.dtype, size=steps if keep else 0) for _ in range(2)]

    def body(t, h, c, hs, cs, activations):
        i, f, g, o = _gates(projected[t] + tf.matmul(h, recurrent_kernel))
        c = f * c + i * g
        h = o * tf.tanh(c)
        if keep:
            cs, activations = cs.write(t, c), activations.write(t, tf.concat([i, f, g, o], -1))
        return t + 1, h, c, hs.write(t, h), cs, activations

    hs = tf.TensorArray(projected.dtype, size=steps)
    _, _, _, hs, cs, activations = tf.while_loop(
        lambda t, *_: t < steps, body, (0, h0, c0, hs, *arrays), maximum_iterations=steps
    )
    if not keep:
        return hs.stack()
    return hs.stack(), cs.stack(), activations.stack()


@tf.function(autograph=False, jit_compile=True, reduce_retracing=True)
def _backward(d_hs, recurrent_kernel, h0, c0, hs, cs, activations):
    """Back-propagation through time: gradients of (projected, R, h0, c0) from d_hs."""
    steps = tf.shape(hs)[0]
    c_previous = tf.concat([c0[None], cs[:-1]], axis=0)

    def body(t, dh, dc, dzs):
        i, f, g, o = tf.split(activations[t], 4, axis=-1)
        dh = dh + d_hs[t]
        tanh_c = tf.tanh(cs[t])
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        dz = tf.concat(
            [
                dc * g * i * (1.0 - i),
                dc * c_previous[t] * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            axis=-1,
        )
        dh = tf.matmul(dz, recurrent_kernel, transpose_b=True)
        return t - 1, dh, dc * f, dzs.write(t, dz)

    _, dh0, dc0, dzs = tf.while_loop(
        lambda t, *_: t >= 0,
        body,
        (steps - 1, tf.zeros_like(h0), tf.zeros_like(c0), tf.TensorArray(hs.dtype, size=steps)),
        maximum_iterations=steps,
    )
    dzs = dzs.stack()
    units = tf.shape(h0)[-1]
    h_previous = tf.concat([h0[None], hs[:-1]], axis=0)
    d_recurrent = tf.matmul(
        tf.reshape(h_previous, [-1, units]), tf.reshape(dzs, [-1, 4 * units]), transpose_a=True
    )
    return dzs, d_recurrent, dh0, dc0


def _plain_states(projected, recurrent_kernel, h0, c0):
    """The recurrence as plain differentiable ops (``tf.scan``): for a gradient taken under a
    recording tape (a gradient of a gradient) or without the kept intermediates."""

    def step(state, z):
        h, c = state
        i, f, g, o = _gates(z + tf.matmul(h, recurrent_kernel))
        c = f * c + i * g
        return o * tf.tanh(c), c

    return tf.scan(step, projected, initializer=(h0, c0))[0]


@tf.custom_gradient
def lstm_recurrence(projected, recurrent_kernel, h0, c0):
    """The LSTM states of time-major projected inputs, with the BPTT gradient above.

    Args:
        projected: x_t K + b for every step, [T, B, 4H].
        recurrent_kernel: R, [H, 4H].
        h0: Initial state, [B, H].
        c0: Initial cell, [B, H].

    Returns:
        h_t for t = 1..T, [T, B, H].
    """
    # Without a recording tape no gradient can be asked for (but by tf.gradients, which
    # grad below serves from plain ops): the backward pass's cells and gates are not kept.
    keep = record.could_possibly_record()
    with record.stop_recording():  # the gradient is grad's; tapes need no intermediates
        if keep:
            hs, cs, activations = _forward(projected, recurrent_kernel, h0, c0)
        else:
            hs = _forward(projected, recurrent_kernel, h0, c0, keep=False)

    def grad(d_hs):
        d_hs = tf.convert_to_tensor(d_hs)
        if record.could_possibly_record() or not keep:
            # A tape records this gradient (a gradient of a gradient, as SA-VAE takes):
            # derive it from plain ops of the inputs, which that tape can differentiate.
            inputs = [projected, recurrent_kernel, h0, c0]
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                states = _plain_states(*inputs)
            return tape.gradient(states, inputs, output_gradients=d_hs)
        return _backward(d_hs, recurrent_kernel, h0, c0, hs, cs, activations)

    return hs, grad


def lstm_states(
    cell,
    inputs: tf.Tensor,
    initial_state: tuple[tf.Tensor, tf.Tensor],
    constant_inputs: tf.Tensor | None = None,
) -> tf.Tensor:
    """The states h_1..h_T of a ``tf_keras`` LSTM cell over time-major inputs.

    Equals ``tf_keras.layers.LSTM(return_sequences=True)`` with that cell, called on the
    batch-major inputs ``[x_t, constant_inputs]`` (up to float rounding).

    Args:
        cell: A built ``tf_keras.layers.LSTMCell`` (``layer.cell``) whose kernel's first
            rows read ``inputs`` and last rows ``constant_inputs``.
        inputs: x_t, [T, B, E].
        initial_state: (h_0, c_0), each [B, H].
        constant_inputs: Inputs joined to every step, [B, E'], or None.

    Returns:
        [T, B, H].

    Raises:
        ValueError: If the cell has other activations or dropout.
    """
    if (
        getattr(cell.activation, "__name__", "") != "tanh"
        or getattr(cell.recurrent_activation, "__name__", "") != "sigmoid"
        or cell.dropout
        or cell.recurrent_dropout
    ):
        raise ValueError("lstm_states computes the LSTM with tanh, sigmoid gates, no dropout")
    kernel = tf.convert_to_tensor(cell.kernel)
    width = tf.shape(inputs)[-1]
    shape = tf.shape(inputs)
    flat = tf.reshape(inputs, [-1, width])
    projected = tf.reshape(tf.matmul(flat, kernel[:width]), [shape[0], shape[1], -1])
    offset = cell.bias if cell.use_bias else tf.zeros([4 * cell.units], kernel.dtype)
    if constant_inputs is not None:
        offset = tf.matmul(constant_inputs, kernel[width:]) + offset  # [B, 4H], once
    h0, c0 = initial_state
    recurrent_kernel = tf.convert_to_tensor(cell.recurrent_kernel)
    return lstm_recurrence(projected + offset, recurrent_kernel, h0, c0)
