import functools, math, sys, time
import torch
from helpers.data import fixed_binarization, load_mnist
from helpers.evaluation import active_units
from helpers.models import bernoulli_vae
from helpers.objectives import elbo_loss, kl_per_dimension
from helpers.training import fit
torch.set_num_threads(1)
x_train, _ = load_mnist("train")
x_test = fixed_binarization(load_mnist("test")[0], seed=2)
for beta in [float(b) for b in sys.argv[1].split(",")]:
    torch.manual_seed(0)
    m = bernoulli_vae(z_features=50, hidden=(200, 200))
    t0 = time.time()
    fit(m, x_train, epochs=25, objective=functools.partial(elbo_loss, beta=beta), batch_size=128, lr=1e-3,
        lr_decay=0.1 ** (1 / 25), binarization="dynamic", cache=f"ch5_beta_{beta:g}",
        config={"z": 50, "hidden": (200, 200), "beta": beta, "seed": 0})
    t1 = time.time()
    n, var = active_units(m, x_test)
    with torch.no_grad():
        kl = kl_per_dimension(m.encoder(x_test)).mean(0)
    o = var.argsort(descending=True)
    print(f"beta {beta}: train s {t1-t0:.0f}; active(var) {n}")
    for t in (0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3):
        print(f"  t={t}: var>{int((var>t).sum())} kl>{int((kl>t).sum())}")
    print("  var sorted", var[o].numpy().round(4).tolist())
    print("  kl same order", kl[o].numpy().round(4).tolist(), flush=True)
