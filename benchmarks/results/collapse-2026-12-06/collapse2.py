"""Prototype: a pretrained autoregressive decoder, then the VAE: does the plain ELBO collapse?"""
import sys, time, math, copy, functools
import torch
from torch.distributions import Normal, kl_divergence
sys.path.insert(0, "/work/proto")
from collapse_lib import ARDec
from helpers.models import VAE, GaussianEncoder, standard_normal_prior
from helpers.data import load_mnist, fixed_binarization
from helpers.objectives import elbo_loss, kl_warmup_loss, free_bits_loss
from helpers.training import fit

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
torch.set_flush_denormal(True)
pre_epochs, epochs = int(sys.argv[1]), int(sys.argv[2])
Z = 32
torch.manual_seed(0)
x_train, _ = load_mnist("train")
x_test, _ = load_mnist("test")
xt = fixed_binarization(x_test, seed=1)[:5000]

class Unconditional(torch.nn.Module):
    def __init__(self, dec): super().__init__(); self.decoder = dec
def ar_loss(model, batch, progress):
    x = batch[0]
    nll = -model.decoder(x.new_zeros(len(x), Z)).log_prob(x).mean()
    return {"loss": nll, "elbo": -nll}
dec = ARDec(Z, 784, (1024,))
t0 = time.time()
if pre_epochs:
    h = fit(Unconditional(dec), x_train, epochs=pre_epochs, objective=ar_loss, batch_size=128, lr=1e-3)
    print("pretrain", pre_epochs, "epochs, last nll", -h[-1]["elbo"], "min", (time.time()-t0)/60, flush=True)

def measure(model, tag):
    with torch.no_grad():
        q = model.encoder(xt)
        kl_u = kl_divergence(Normal(q.mean, q.stddev), Normal(0., 1.)).mean(0)
        z = q.sample()
        logq = torch.stack([Normal(q.mean, q.stddev).log_prob(zi).sum(-1) for zi in z])
        mi = (logq.diagonal() - (torch.logsumexp(logq, 1) - math.log(len(xt)))).mean()
        rec = torch.cat([model.decoder(zb).log_prob(xb) for zb, xb in zip(z.split(1000), xt.split(1000))]).mean()
    print(tag, "rate %.3f MI %.3f recon %.2f elbo %.2f au(kl>0.01) %d kl>0.1 %d" % (kl_u.sum(), mi, rec, rec - kl_u.sum(), (kl_u > 0.01).sum(), (kl_u > 0.1).sum()), flush=True)

for name, obj in [("elbo", elbo_loss), ("warmup", functools.partial(kl_warmup_loss, warmup=0.3)), ("freebits", functools.partial(free_bits_loss, free_bits=0.25))]:
    torch.manual_seed(1)
    model = VAE(GaussianEncoder(784, Z, (200, 200)), copy.deepcopy(dec), standard_normal_prior(Z))
    t0 = time.time()
    h = fit(model, x_train, epochs=epochs, objective=obj, batch_size=128, lr=1e-3, lr_decay=0.1 ** (1 / epochs))
    print(name, "kl by epoch", [round(e["kl"], 2) for e in h], "min", round((time.time()-t0)/60, 1), flush=True)
    measure(model, name)
