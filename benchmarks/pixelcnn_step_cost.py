"""The train step of He et al. 2019's Omniglot decoders: the suite's against a PyTorch peer
of the same network.

``--decoder residual`` (the default): the decoder ``config/paper.yaml`` runs on Omniglot,
``residual_pixelcnn`` (their ``image.py``'s ``PixelCNNDecoderV2``: 13 residual masked blocks
of 64 channels with batch normalisation, kernels 7,7,7,7,7,5,5,5,5,3,3,3,3; peer in
``benchmarks/residual_pixelcnn_torch.py``, both in training mode, batch statistics).
``--decoder gated``: ``gated_pixelcnn`` at their ``config_omniglot.py``'s sizes (12 gated
layers x 32 channels, kernels 9,9,9,7,7,7,5,5,5,3,3,3; peer below). Both take z = 32 as a
4-channel 28 x 28 map. One step = the forward and backward pass of -log p(x|z) averaged
over a batch of 50 random binary 28 x 28 images and random z, plus an Adam update of the
decoder's weights (no encoder: the decoder is what He et al.'s Omniglot step spends its
time on), trained by

- the suite: ``build_decoder`` and a ``tf.function`` step (``GradientTape``, ``tf_keras``
  Adam), as the train loop runs it (no XLA: ``decoder_types.XLA_TRAIN_STEPS``);
- the PyTorch eager peer below, written for this benchmark after He et al.'s
  ``modules/decoders/dec_pixelcnn.py`` (jxhe/vae-lagging-encoder cdc4eb9): the same layers,
  shifts, gates, residuals and head, ``torch.optim.Adam`` (the ``bench`` extra). Given the
  suite's weights (:func:`copy_suite_weights`) it computes the suite's logits to 1e-5
  (``tests/test_gated_pixelcnn.py``): the same function, 744,801 weights each (the
  residual peer: ``tests/test_residual_pixelcnn.py``, 894,400 weights).

Each implementation runs in a process of its own (no two runtimes' thread pools in one
process). After two warm-up steps each, every round times ``--steps`` steps of one, then
of the other (alternated, the order swapped every round, so a noisy machine slows both
alike); the figure printed is the median over rounds of each round's mean step.

    python benchmarks/pixelcnn_step_cost.py [--decoder residual|gated] [--threads 2]
        [--rounds 5] [--steps 5]
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from residual_pixelcnn_torch import KERNELS as RESIDUAL_KERNELS  # noqa: E402
from residual_pixelcnn_torch import peer_decoder as residual_peer  # noqa: E402

BATCH, LATENT, SIDE, MAPS, CHANNELS = 50, 32, 28, 4, 32
KERNELS = (9, 9, 9, 7, 7, 7, 5, 5, 5, 3, 3, 3)
DECODER = {
    "type": "gated_pixelcnn",
    "kernel_sizes": list(KERNELS),
    "channels": CHANNELS,
    "latent_feature_maps": MAPS,
}
RESIDUAL_DECODER = {
    "type": "residual_pixelcnn",
    "kernel_sizes": list(RESIDUAL_KERNELS),
    "channels": 64,
    "latent_feature_maps": MAPS,
}
# --decoder -> (the suite's decoder options, what the final line calls it)
DECODERS = {
    "residual": (RESIDUAL_DECODER, "residual PixelCNN 13 x 64 (PixelCNNDecoderV2)"),
    "gated": (DECODER, "gated PixelCNN 12 x 32"),
}


def batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random binary images [B, 784] and z [B, 32]."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (BATCH, SIDE * SIDE)).astype(np.float32)
    return x, rng.standard_normal((BATCH, LATENT)).astype(np.float32)


def suite_step(options=DECODER):
    """The suite's step of the decoder ``options`` describe: ``step(x, z) -> loss``."""
    import tensorflow as tf
    import tf_keras

    from vae_tfp.models.decoders import build_decoder

    tf_keras.utils.set_random_seed(0)
    decoder = build_decoder(options, LATENT, (SIDE * SIDE,), "binary")
    variables = decoder.trainable_variables
    optimizer = tf_keras.optimizers.Adam(1e-3)
    optimizer.build(variables)
    # Training mode (batch statistics), as the VAE's train step calls a decoder with them.
    training = {"training": True} if getattr(decoder, "uses_batch_statistics", False) else {}

    @tf.function
    def train(x, z):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(decoder(z, **training).log_prob(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return lambda x, z: float(train(tf.constant(x), tf.constant(z)))


def peer_decoder():
    """The PyTorch peer: an ``nn.Module`` mapping (x [B, 784], z [B, 32]) to logits [B, 784]."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Gated(nn.Module):
        def __init__(self, in_channels: int, channels: int, kernel: int, mask: str):
            super().__init__()
            self.channels, self.half, self.mask = channels, kernel // 2, mask
            self.v = nn.Conv2d(in_channels, 2 * channels, (self.half + 1, kernel))
            self.vh = nn.Conv2d(2 * channels, 2 * channels, 1)
            self.h = nn.Conv2d(in_channels, 2 * channels, (1, self.half + 1))
            self.res = nn.Conv2d(channels, channels, 1)

        def gate(self, a):
            return torch.tanh(a[:, : self.channels]) * torch.sigmoid(a[:, self.channels :])

        def forward(self, v, h):
            half = self.half
            v_out = F.pad(self.v(F.pad(v, (half, half, half, 0))), (0, 0, 1, 0))[:, :, :-1]
            h_out = self.h(F.pad(h, (half, 0, 0, 0)))
            if self.mask == "A":
                h_out = F.pad(h_out, (1, 0, 0, 0))[:, :, :, :-1]
            h_out = self.res(self.gate(h_out + self.vh(v_out)))
            return self.gate(v_out), h_out + h if self.mask == "B" else h_out

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.z_map = nn.Linear(LATENT, MAPS * SIDE * SIDE)
            nn.init.normal_(self.z_map.weight, 0.0, (2.0 / LATENT) ** 0.5)
            self.layers = nn.ModuleList(
                Gated(1 + MAPS if i == 0 else CHANNELS, CHANNELS, k, "A" if i == 0 else "B")
                for i, k in enumerate(KERNELS)
            )
            self.head = nn.Conv2d(CHANNELS, 1, 1)

        def forward(self, x, z):
            maps = self.z_map(z).view(-1, MAPS, SIDE, SIDE)
            v = h = torch.cat([x.view(-1, 1, SIDE, SIDE), maps], 1)
            for layer in self.layers:
                v, h = layer(v, h)
            bound = float(np.log((1 - 1e-5) / 1e-5))
            return self.head(h).view(x.shape[0], -1).clamp(-bound, bound)

    return Decoder()


def copy_suite_weights(suite, peer) -> None:
    """Sets the peer's weights to the suite decoder's (kernels HWIO -> OIHW; the z map's
    output units from the suite's (H, W, F) order to the peer's (F, H, W)), so that both
    compute the same logits (``tests/test_gated_pixelcnn.py``)."""
    import torch

    def conv(source, target) -> None:
        kernel = np.transpose(source.kernel.numpy(), (3, 2, 0, 1))
        target.weight.data = torch.from_numpy(kernel.copy())
        target.bias.data = torch.from_numpy(source.bias.numpy().copy())

    for source, target in zip(suite.layers, peer.layers, strict=True):
        conv(source.v_conv, target.v)
        conv(source.vh_conv, target.vh)
        conv(source.h_conv, target.h)
        conv(source.h_res, target.res)
    conv(suite.head, peer.head)
    order = np.arange(SIDE * SIDE * MAPS).reshape(SIDE, SIDE, MAPS).transpose(2, 0, 1).ravel()
    weight, bias = suite.z_map.kernel.numpy()[:, order], suite.z_map.bias.numpy()[order]
    peer.z_map.weight.data = torch.from_numpy(weight.T.copy())
    peer.z_map.bias.data = torch.from_numpy(bias.copy())


def peer_step(threads: int, decoder_name: str = "gated"):
    """The PyTorch peer's step (``--decoder``'s network, training mode): ``step(x, z) ->
    loss``."""
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if decoder_name == "residual":
        decoder = residual_peer(LATENT, SIDE, MAPS, 64, RESIDUAL_KERNELS)
    else:
        decoder = peer_decoder()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-3)

    def step(x, z):
        x, z = torch.from_numpy(x), torch.from_numpy(z)
        optimizer.zero_grad()
        logits = decoder(x, z)
        loss = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def worker(name: str, threads: int, connection, decoder_name: str = "gated") -> None:
    """Builds implementation ``name`` of ``--decoder``'s network in this process, then runs
    the steps it is sent (a number) and sends back the seconds of each; None ends it."""
    if name == "pytorch":
        step = peer_step(threads, decoder_name)
    else:
        from vae_tfp.runtime import configure_tensorflow

        configure_tensorflow(threads)
        step = suite_step(DECODERS[decoder_name][0])
    x, z = batch(0)
    started = time.perf_counter()
    for _ in range(2):
        step(x, z)
    connection.send(time.perf_counter() - started)
    while (steps := connection.recv()) is not None:
        times = []
        for index in range(steps):
            x, z = batch(index + 1)
            started = time.perf_counter()
            step(x, z)
            times.append(time.perf_counter() - started)
        connection.send(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decoder", choices=sorted(DECODERS), default="residual")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per round and implementation")
    args = parser.parse_args()

    from text_step_cost import machine_note, versions

    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {machine_note(args.threads)}")
    print(versions())
    context = multiprocessing.get_context("spawn")
    names = ("suite", "pytorch")
    pipes = {}
    for name in names:
        parent, child = context.Pipe()
        context.Process(
            target=worker, args=(name, args.threads, child, args.decoder), daemon=True
        ).start()
        pipes[name] = parent
    for name in names:
        print(f"{name}: warm-up (2 steps, first trace included) {pipes[name].recv():.1f} s")
    means: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            pipes[name].send(args.steps)
            means[name].append(statistics.mean(pipes[name].recv()))
        print(
            f"round {round_index + 1}: "
            + ", ".join(f"{name} {means[name][-1]:.3f} s/step" for name in names)
        )
    for connection in pipes.values():
        connection.send(None)
    suite, peer = (statistics.median(means[name]) for name in names)
    print(
        f"{DECODERS[args.decoder][1]}, batch {BATCH}, 28 x 28, {args.threads} threads, "
        f"median of "
        f"{args.rounds} rounds: suite {suite:.3f} s/step, PyTorch {peer:.3f} s/step "
        f"(suite / PyTorch = {suite / peer:.2f})"
    )
    print(f"load average at the end: {machine_note(args.threads).rpartition('; ')[2]}")


if __name__ == "__main__":
    main()
