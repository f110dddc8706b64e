"""The chapter's autoregressive decoder, compact version (probe copy)."""
import torch
import zuko
from torch import Size, Tensor, nn
from torch.distributions import Bernoulli, Distribution, constraints
from zuko.lazy import LazyDistribution


class AutoregressiveBernoulli(Distribution):
    arg_constraints = {}
    support = constraints.independent(constraints.boolean, 1)

    def __init__(self, net: nn.Module, z: Tensor, pixels: int) -> None:
        self.net, self.z = net, z
        super().__init__(z.shape[:-1], Size([pixels]), validate_args=False)

    def logits(self, x: Tensor, net: nn.Module | None = None) -> Tensor:
        batch = torch.broadcast_shapes(x.shape[:-1], self.z.shape[:-1])
        inputs = [x.expand(*batch, -1), self.z.expand(*batch, -1)]
        return (self.net if net is None else net)(torch.cat(inputs, -1))

    def log_prob(self, x: Tensor) -> Tensor:
        logits = self.logits(x)
        return Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)

    @torch.no_grad()
    def sample(self, shape: Size = Size()) -> Tensor:
        fused = masks_applied(self.net)
        x = self.z.new_zeros(*shape, *self.batch_shape, *self.event_shape)
        uniforms = torch.rand_like(x)
        for i in range(x.shape[-1]):
            p = self.logits(x, fused)[..., i].sigmoid()
            x[..., i] = (uniforms[..., i] < p).float()
        return x


def masks_applied(net: nn.Sequential) -> nn.Sequential:
    layers = []
    for layer in net:
        if isinstance(layer, zuko.nn.MaskedLinear):
            fused = nn.Linear(layer.in_features, layer.out_features)
            fused.weight.data = layer.mask * layer.weight.data
            fused.bias.data = layer.bias.data.clone()
            layer = fused.to(layer.weight.device)
        layers.append(layer)
    return nn.Sequential(*layers)


class AutoregressiveDecoder(LazyDistribution):
    def __init__(self, z_features, pixels=784, hidden=(1024,)):
        super().__init__()
        before = torch.ones(pixels, pixels, dtype=torch.bool).tril(-1)
        sees_z = torch.ones(pixels, z_features, dtype=torch.bool)
        self.net = zuko.nn.MaskedMLP(torch.cat([before, sees_z], 1), hidden)
        self.pixels = pixels

    def forward(self, z):
        return AutoregressiveBernoulli(self.net, z, self.pixels)
