import torch, zuko
from torch import Size
from torch.distributions import Bernoulli, Distribution, constraints
from zuko.lazy import LazyDistribution
class ARB(Distribution):
    arg_constraints = {}
    support = constraints.independent(constraints.boolean, 1)
    def __init__(self, net, z, n):
        self.net, self.z = net, z
        super().__init__(z.shape[:-1], Size([n]), validate_args=False)
    def log_prob(self, x):
        z = self.z.expand(*x.shape[:-1], self.z.shape[-1]) if x.dim() > self.z.dim() else self.z
        x = x.expand(*z.shape[:-1], x.shape[-1])
        return Bernoulli(logits=self.net(torch.cat([x, z], -1)), validate_args=False).log_prob(x).sum(-1)

class ARDec(LazyDistribution):
    def __init__(self, zf, xf, hidden):
        super().__init__()
        adj = torch.cat([torch.ones(xf, xf, dtype=torch.bool).tril(-1), torch.ones(xf, zf, dtype=torch.bool)], 1)
        self.net = zuko.nn.MaskedMLP(adj, hidden); self.xf = xf
    def forward(self, z): return ARB(self.net, z, self.xf)

