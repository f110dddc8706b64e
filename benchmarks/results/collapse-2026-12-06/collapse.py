"""Prototype: does a stronger autoregressive decoder collapse the posterior?"""
import sys, time, math, json
import torch, zuko
from torch import nn, Size, Tensor
from torch.distributions import Bernoulli, Distribution, constraints, Normal, kl_divergence
from zuko.lazy import LazyDistribution
from helpers.models import VAE, GaussianEncoder, standard_normal_prior
from helpers.data import load_mnist, fixed_binarization
from helpers.objectives import elbo_loss
from helpers.training import fit

torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
torch.set_flush_denormal(True)
hidden = tuple(int(h) for h in sys.argv[1].split(","))
epochs = int(sys.argv[2]); tag = sys.argv[3]

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

torch.manual_seed(0)
Z = 50
x_train, _ = load_mnist("train")
x_test, _ = load_mnist("test")
xt = fixed_binarization(x_test, seed=1)[:2000]
model = VAE(GaussianEncoder(784, Z, (200, 200)), ARDec(Z, 784, hidden), standard_normal_prior(Z))
t0 = time.time()
hist = fit(model, x_train, epochs=epochs, objective=elbo_loss, batch_size=128, lr=1e-3,
           lr_decay=0.1 ** (1 / epochs), binarization="dynamic")
print(tag, "train min", (time.time()-t0)/60, flush=True)
for h in hist: print(tag, "epoch", h["epoch"], "kl", round(h["kl"], 3), "elbo", round(h["elbo"], 2), flush=True)
with torch.no_grad():
    q = model.encoder(xt)
    kl_u = kl_divergence(Normal(q.mean, q.stddev), Normal(0., 1.)).mean(0)
    z = q.sample()
    # MI: E[log q(z|x) - log q(z)], aggregate posterior over the 2000 images
    logq_all = torch.stack([Normal(q.mean, q.stddev).log_prob(zi).sum(-1) for zi in z])  # [i, n]
    log_agg = torch.logsumexp(logq_all, 1) - math.log(len(xt))
    mi = (logq_all.diagonal() - log_agg).mean()
    rec = model.decoder(z).log_prob(xt).mean()
print(tag, "rate", kl_u.sum().item(), "MI", mi.item(), "recon", rec.item(), "dims>0.01", int((kl_u > 0.01).sum()), "dims>0.1", int((kl_u>0.1).sum()))
print(tag, "kl_u sorted", [round(v, 3) for v in kl_u.sort(descending=True).values.tolist()[:20]])
