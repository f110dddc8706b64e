import copy, functools, sys
import torch, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from ar import AutoregressiveDecoder
from helpers.data import fixed_binarization, load_mnist
from helpers.evaluation import active_units
from helpers.models import VAE, GaussianEncoder, maf_prior, standard_normal_prior
from helpers.objectives import elbo_loss, free_bits_loss, kl_warmup_loss
from helpers.training import fit
from helpers.plots import image_grid
torch.set_num_threads(1)
Z, SEED, PRE, EPOCHS = 50, 0, 20, 20
x_train, _ = load_mnist("train")
x_test = fixed_binarization(load_mnist("test")[0], seed=2)
def pretrain_loss(decoder, batch, progress):
    x = batch[0]; nll = -decoder(x.new_zeros(len(x), Z)).log_prob(x).mean(); return {"loss": nll, "nll": nll}
torch.manual_seed(SEED)
dec = AutoregressiveDecoder(Z, 784, (1024,))
fit(dec, x_train, epochs=PRE, objective=pretrain_loss, lr=1e-3, lr_decay=0.1 ** (1 / PRE), cache="p_pre", config={"z": Z, "seed": SEED})
def vae(decoder, prior=None):
    torch.manual_seed(SEED)
    return VAE(GaussianEncoder(784, Z, (200, 200)), decoder, prior or standard_normal_prior(Z))
runs = {
    "scratch": (lambda: vae(AutoregressiveDecoder(Z, 784, (1024,))), elbo_loss),
    "elbo": (lambda: vae(copy.deepcopy(dec)), elbo_loss),
    "warmup": (lambda: vae(copy.deepcopy(dec)), functools.partial(kl_warmup_loss, warmup=0.3)),
    "freebits": (lambda: vae(copy.deepcopy(dec)), functools.partial(free_bits_loss, free_bits=0.25)),
    "maf": (lambda: vae(copy.deepcopy(dec), maf_prior(Z, 3, (256, 256))), elbo_loss),
}
rows = {"test": x_test[:8]}
for name, (make, obj) in runs.items():
    m = make()
    fit(m, x_train, epochs=EPOCHS, objective=obj, lr=1e-3, lr_decay=0.1 ** (1 / EPOCHS), cache=f"p_{name}", config={"z": Z, "seed": SEED, "pre": PRE})
    m.eval()
    n, var = active_units(m, x_test)
    print(name, "active(var)", n, "max var", var.max().item(), flush=True)
    torch.manual_seed(SEED)
    with torch.no_grad():
        rows[name] = m.decoder(m.encoder(x_test[:8]).mean).sample()
fig, axes = plt.subplots(len(rows), 1, figsize=(5.5, 1.05 * len(rows)))
for ax, (name, images) in zip(axes, rows.items()):
    image_grid(images, nrow=8, ax=ax); ax.set_title(name, fontsize=9, loc="left")
fig.tight_layout(); fig.savefig("samples.png", dpi=110)
