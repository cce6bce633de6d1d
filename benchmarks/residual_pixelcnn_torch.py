"""A PyTorch peer of the suite's ``residual_pixelcnn`` decoder, for
``benchmarks/pixelcnn_step_cost.py``.

Written for this benchmark after He et al.'s ``modules/decoders/dec_pixelcnn_v2.py``
(jxhe/vae-lagging-encoder cdc4eb9, ``PixelCNNDecoderV2`` in its ``'large'`` mode, which
their ``image.py`` trains on Omniglot): a type-A masked convolution on the image channel,
12 residual blocks with batch normalisation and ELU, 11 direct connections, a 1x1 head.
Given the suite's weights (:func:`copy_suite_weights`) it computes the suite's logits, in
training mode (batch statistics) and in evaluation mode (``tests/test_residual_pixelcnn.py``);
the peer needs the ``bench`` extra (PyTorch).
"""

from __future__ import annotations

import numpy as np

KERNELS = (7, 7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3)


def peer_decoder(latent: int = 32, side: int = 28, maps: int = 4, channels: int = 64,
                 kernels=KERNELS):
    """The peer: an ``nn.Module`` mapping (x [B, side^2], z [B, latent]) to logits."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Masked(nn.Conv2d):
        def __init__(self, in_channels, out_channels, kernel, masked, kind):
            super().__init__(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
            mask = torch.ones_like(self.weight)
            centre = kernel // 2
            mask[:, :masked, centre, centre + (kind == "B") :] = 0
            mask[:, :masked, centre + 1 :] = 0
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask, padding=self.padding)

    class Block(nn.Module):
        def __init__(self, width, kernel):
            super().__init__()
            half = width // 2
            self.main = nn.Sequential(
                nn.Conv2d(width, half, 1, bias=False), nn.BatchNorm2d(half), nn.ELU(),
                Masked(half, half, kernel, half, "B"), nn.BatchNorm2d(half), nn.ELU(),
                nn.Conv2d(half, width, 1, bias=False), nn.BatchNorm2d(width),
            )

        def forward(self, x):
            return F.elu(self.main(x) + x)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.z_map = nn.Linear(latent, maps * side * side)
            self.first = nn.Sequential(
                Masked(1 + maps, channels, kernels[0], 1, "A"), nn.BatchNorm2d(channels),
                nn.ELU(),
            )
            self.blocks = nn.ModuleList(Block(channels, k) for k in kernels[1:])
            self.direct = nn.ModuleList(Block(channels, k) for k in kernels[1:-1])
            self.head = nn.Sequential(
                nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                nn.ELU(), nn.Conv2d(channels, 1, 1, bias=False),
            )

        def forward(self, x, z):
            z_maps = self.z_map(z).view(-1, maps, side, side)
            h = self.first(torch.cat([x.view(-1, 1, side, side), z_maps], 1))
            outputs = [h]
            for i, block in enumerate(self.blocks, start=1):
                if i >= 3:
                    h = h + self.direct[i - 3](outputs[i - 3])
                h = block(h)
                outputs.append(h)
            h = h + self.direct[-1](outputs[-3])
            return self.head(h).view(x.shape[0], -1)

    return Decoder()


def copy_suite_weights(suite, peer, side: int = 28) -> None:
    """Sets the peer's weights to the suite decoder's (kernels HWIO -> OIHW, BN scale,
    shift and moving statistics; the z map's output units from the suite's (H, W, F) order
    to the peer's (F, H, W))."""
    import torch

    def tensor(array):
        return torch.from_numpy(np.ascontiguousarray(array))

    def conv(kernel, target) -> None:
        target.weight.data = tensor(np.transpose(kernel, (3, 2, 0, 1)))

    def norm(source, target) -> None:
        target.weight.data = tensor(source.gamma.numpy())
        target.bias.data = tensor(source.beta.numpy())
        target.running_mean.data = tensor(source.moving_mean.numpy())
        target.running_var.data = tensor(source.moving_variance.numpy())

    def block(source, target) -> None:
        conv(source.reduce.kernel.numpy(), target.main[0])
        norm(source.reduce_norm, target.main[1])
        conv(source.masked.kernel.numpy(), target.main[3])
        norm(source.masked_norm, target.main[4])
        conv(source.expand.kernel.numpy(), target.main[6])
        norm(source.expand_norm, target.main[7])

    conv(suite.first.kernel.numpy(), peer.first[0])
    norm(suite.first_norm, peer.first[1])
    for source, target in zip(suite.blocks, peer.blocks, strict=True):
        block(source, target)
    for source, target in zip(suite.direct, peer.direct, strict=True):
        block(source, target)
    conv(suite.head_conv.kernel.numpy(), peer.head[0])
    norm(suite.head_norm, peer.head[1])
    conv(suite.head_out.kernel.numpy(), peer.head[3])
    maps = suite.maps
    order = np.arange(side * side * maps).reshape(side, side, maps).transpose(2, 0, 1).ravel()
    peer.z_map.weight.data = tensor(suite.z_map.kernel.numpy()[:, order].T)
    peer.z_map.bias.data = tensor(suite.z_map.bias.numpy()[order])
