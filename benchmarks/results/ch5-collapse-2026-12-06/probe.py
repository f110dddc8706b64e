"""Chapter 5 collapse experiment at the planned full schedule (probe)."""
import copy, functools, math, sys, time
import torch
from torch.distributions import Normal
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from ar import AutoregressiveDecoder
from helpers.data import fixed_binarization, load_mnist
from helpers.evaluation import mean_and_se, score
from helpers.models import VAE, GaussianEncoder, maf_prior, standard_normal_prior
from helpers.objectives import elbo_loss, free_bits_loss, kl_per_dimension, kl_warmup_loss
from helpers.training import fit

torch.set_num_threads(1)
PRE, EPOCHS, Z, SEED = int(sys.argv[1]), int(sys.argv[2]), 50, 0
N_IS, K = 2000, 100
x_train, _ = load_mnist("train")
x_test = fixed_binarization(load_mnist("test")[0], seed=2)
log = open("probe.log", "a")
def say(*a):
    print(*a, flush=True); print(*a, file=log, flush=True)

def pretrain_loss(decoder, batch, progress):
    x = batch[0]
    nll = -decoder(x.new_zeros(len(x), Z)).log_prob(x).mean()
    return {"loss": nll, "nll": nll}

torch.manual_seed(SEED)
dec = AutoregressiveDecoder(Z, 784, (1024,))
t0 = time.time()
h = fit(dec, x_train, epochs=PRE, objective=pretrain_loss, lr=1e-3,
        lr_decay=0.1 ** (1 / PRE), cache="p_pre", config={"z": Z, "seed": SEED})
say("pretrain", PRE, "nll by epoch", [round(e["nll"], 2) for e in h], "s", round(time.time() - t0))

def log_q_all(q, z):
    mu, var = q.mean.double(), q.variance.double()
    z, precision = z.double(), 1 / var
    squares = z**2 @ precision.T - 2 * z @ (mu * precision).T
    constant = (mu**2 * precision + torch.log(2 * math.pi * var)).sum(-1)
    return (-0.5 * (squares + constant)).float()

@torch.no_grad()
def mi_terms(encoder, x, chunk=1000):
    q = encoder(x)
    z = q.sample()
    terms = []
    for start in range(0, len(z), chunk):
        log_q = log_q_all(q, z[start : start + chunk])
        own = log_q.diagonal(offset=start)
        terms.append(own - (log_q.logsumexp(-1) - math.log(len(z))))
    return torch.cat(terms)

def measure(model, name, analytic):
    t0 = time.time()
    model.eval()
    with torch.no_grad():
        kl_u = torch.cat([kl_per_dimension(model.encoder(xb)) for xb in x_test.split(1000)]).mean(0)
    t1 = time.time()
    mi = mi_terms(model.encoder, x_test)
    t2 = time.time()
    s = score(model, x_test[:N_IS], K, SEED, analytic_kl=analytic, also_k=(20,))
    t3 = time.time()
    el = score(model, x_test, 1, SEED, analytic_kl=analytic)  # ELBO over all
    t4 = time.time()
    counts = {t: int((kl_u > t).sum()) for t in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
    say(f"{name}: rate {el.kl.mean():.3f} MI {mi.mean():.3f}±{mi.std()/math.sqrt(len(mi)):.3f} "
        f"D {-el.recon.mean():.2f} ELBO {el.elbo.mean():.2f} NLL{K}(2000) {-s.log_px.mean():.2f} "
        f"gap K20->K {(s.log_px - s.log_px_at[20]).mean():.3f} ELBO(2000) {s.elbo.mean():.2f} "
        f"sum klu {kl_u.sum():.3f} counts {counts} top {kl_u.sort(descending=True).values[:8].numpy().round(3)} "
        f"times kl {t1-t0:.1f} mi {t2-t1:.1f} is {t3-t2:.1f} elbo {t4-t3:.1f}")
    return el, s

def vae(decoder, prior=None):
    torch.manual_seed(SEED)
    enc = GaussianEncoder(784, Z, (200, 200))
    return VAE(enc, decoder, prior or standard_normal_prior(Z))

runs = {
    "scratch": (lambda: vae(AutoregressiveDecoder(Z, 784, (1024,))), elbo_loss, True),
    "elbo": (lambda: vae(copy.deepcopy(dec)), elbo_loss, True),
    "warmup": (lambda: vae(copy.deepcopy(dec)), functools.partial(kl_warmup_loss, warmup=0.3), True),
    "freebits": (lambda: vae(copy.deepcopy(dec)), functools.partial(free_bits_loss, free_bits=0.25), True),
    "maf": (lambda: vae(copy.deepcopy(dec), maf_prior(Z, 3, (256, 256))), elbo_loss, False),
}
which = sys.argv[3].split(",") if len(sys.argv) > 3 else list(runs)
res = {}
for name in which:
    make, obj, analytic = runs[name]
    model = make()
    t0 = time.time()
    h = fit(model, x_train, epochs=EPOCHS, objective=obj, lr=1e-3, lr_decay=0.1 ** (1 / EPOCHS),
            cache=f"p_{name}", config={"z": Z, "seed": SEED, "pre": PRE})
    say(name, "kl by epoch", [round(e["kl"], 3) for e in h], "elbo", [round(e["elbo"], 1) for e in h], "s", round(time.time() - t0))
    res[name] = measure(model, name, analytic)
    if name != "elbo" and "elbo" in res:
        d = res[name][0].elbo - res["elbo"][0].elbo
        dn = res[name][1].log_px - res["elbo"][1].log_px
        say(f"  {name} - elbo: ELBO diff {mean_and_se(d)}, logpx diff {mean_and_se(dn)}")
