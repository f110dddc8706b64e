"""The comparison of chapters 8, 9 and 10: one budget, one set of sizes, one builder.

Every variant is trained on the same data with the same sizes, epochs, batch size and
learning-rate schedule, under a cache name of its own, so that a model trained for one
chapter is loaded, not trained again, by the next. The benchmark's model, zuko's VAE
tutorial, is built here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
import zuko
from torch import Tensor
from zuko.lazy import LazyDistribution

from helpers.data import fixed_binarization, load_mnist
from helpers.evaluation import Scores, mean_and_se, score
from helpers.models import VAE, bernoulli_vae, maf_prior, standard_normal_prior
from helpers.objectives import elbo_loss, kl_warmup_loss
from helpers.posteriors import iaf_vae, planar_vae
from helpers.training import History, Objective, fit

Posterior = Literal["Gaussian", "planar", "IAF"]
Prior = Literal["Gaussian", "MAF", "NSF"]


@dataclass(frozen=True)
class Settings:
    """Sizes and budget shared by every variant of the comparison.

    The comparison runs at :data:`FULL` or, in a chapter's short run, at
    :data:`SHORT` (``run.pick(full=FULL, short=SHORT)``).

    Example:
        >>> SHORT.budget()
        {'epochs': 1, 'batch_size': 256, 'lr': 0.001, 'lr_decay': 0.975}
    """

    hidden: tuple[int, ...]  # encoder widths (the decoder mirrors them)
    z: int  # latent dimensions
    flow_hidden: tuple[int, ...]  # MADE widths of flow priors and IAF posteriors
    context: int  # features of the IAF's context vector h(x)
    planar_layers: int  # layers of the planar posterior
    iaf_layers: int  # autoregressive layers of the IAF posterior
    epochs: int
    k_is: int  # importance samples per test image
    seeds: tuple[int, ...]  # chapter 10 trains every variant from each of them
    train_images: int | None = None  # None: all 50 000
    valid_images: int | None = None  # None: all 10 000
    test_images: int | None = None  # None: all 10 000
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: float = 0.975

    def budget(self) -> dict[str, Any]:
        """:func:`helpers.training.fit`'s schedule arguments."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "lr_decay": self.lr_decay,
        }

    def sizes(self) -> dict[str, Any]:
        """The models' sizes (part of each trained model's cache key)."""
        names = ("hidden", "z", "flow_hidden", "context", "planar_layers", "iaf_layers")
        return {name: getattr(self, name) for name in names}


# 30 epochs, Adam's rate decaying to 1.3e-4, encoder and decoder of 256-256 (Burda
# et al.'s are 200-200): chapter 10's three seeds of its eight variants, with their
# scores, fit its 90 minutes from an empty cache on a 2-core AMD EPYC (about 77),
# where 512-512 would take 1.6 times as long to train
# (benchmarks/results/sizes-2026-12-06)
FULL = Settings(
    hidden=(256, 256), z=16, flow_hidden=(256, 256), context=64, planar_layers=16,
    iaf_layers=2, epochs=30, k_is=500, seeds=(0, 1, 2), lr_decay=0.935,
)  # fmt: skip
"""The comparison's sizes and budget in a full run."""

SHORT = Settings(
    hidden=(64, 64), z=16, flow_hidden=(32, 32), context=8, planar_layers=16,
    iaf_layers=2, epochs=1, k_is=20, seeds=(0, 1), train_images=3000,
    valid_images=500, test_images=500,
)  # fmt: skip
"""The comparison's sizes and budget in a short run: narrow, 1 epoch, a data subset."""


class Variant(NamedTuple):
    """One model of the comparison: its cache name, posterior, prior, objective, and
    the logged quantity whose validation value selects its weights (``fit``'s
    ``metric``: the objective's own bound, so that each model is kept at its best by
    what it was trained for).

    Example:
        >>> VARIANTS["KL-annealed VAE"].objective.__name__
        'kl_warmup_loss'
        >>> VARIANTS["KL-annealed VAE"].metric
        'elbo'
    """

    cache: str | None  # None: not cached
    posterior: Posterior
    prior: Prior
    objective: Objective = elbo_loss
    metric: str = "elbo"


VARIANTS: dict[str, Variant] = {
    "Gaussian VAE": Variant("cmp_gaussian", "Gaussian", "Gaussian"),
    "KL-annealed VAE": Variant("cmp_kl_warmup", "Gaussian", "Gaussian", kl_warmup_loss),
    "planar K=16": Variant("cmp_planar16", "planar", "Gaussian"),
    "IAF posterior": Variant("cmp_iaf", "IAF", "Gaussian"),
    "MAF prior": Variant("cmp_maf_prior", "Gaussian", "MAF"),
    "NSF prior": Variant("cmp_nsf_prior", "Gaussian", "NSF"),
    "MAF prior + IAF posterior": Variant("cmp_maf_iaf", "IAF", "MAF"),
}


def prior(kind: Prior, settings: Settings) -> LazyDistribution:
    """N(0, I), or a MAF or NSF prior of 3 transforms with ``flow_hidden`` units.

    Example:
        >>> flow = prior("NSF", SHORT)
        >>> type(flow).__name__, flow().sample((5,)).shape
        ('NSF', torch.Size([5, 16]))
    """
    z, hidden = settings.z, settings.flow_hidden
    if kind == "Gaussian":
        return standard_normal_prior(z)
    if kind == "MAF":
        return maf_prior(z, 3, hidden)
    if kind == "NSF":
        return zuko.flows.NSF(features=z, transforms=3, hidden_features=hidden)
    raise ValueError(f"prior must be 'Gaussian', 'MAF' or 'NSF', got {kind!r}.")


def build(variant: Variant, settings: Settings) -> VAE:
    """The untrained model of ``variant`` at the sizes ``settings`` (prior built first).

    Example:
        >>> vae = build(VARIANTS["MAF prior + IAF posterior"], SHORT)
        >>> type(vae.encoder).__name__, type(vae.prior).__name__
        ('IAFEncoder', 'MAF')
    """
    z, hidden = settings.z, settings.hidden
    p = prior(variant.prior, settings)
    if variant.posterior == "Gaussian":
        return bernoulli_vae(784, z, hidden, p)
    if variant.posterior == "planar":
        return planar_vae(784, z, hidden, p, flows=settings.planar_layers)
    if variant.posterior == "IAF":
        return iaf_vae(
            784, z, hidden, p, context=settings.context,
            transforms=settings.iaf_layers, flow_hidden=settings.flow_hidden,
        )  # fmt: skip
    raise ValueError(f"unknown posterior {variant.posterior!r}.")


def tutorial_vae(
    hidden: tuple[int, ...] = (1024, 1024), flow_hidden: tuple[int, ...] = (256, 256)
) -> VAE:
    """zuko's VAE tutorial model: a Gaussian encoder and a Bernoulli decoder of
    ``hidden`` units, 16 latent dimensions and a MAF prior of 3 transforms.

    Example:
        >>> vae = tutorial_vae((32,), (8,))
        >>> vae.encoder.z_features, len(vae.prior.transform.transforms)
        (16, 3)
    """
    return bernoulli_vae(784, 16, hidden, prior=maf_prior(16, 3, flow_hidden))


class ComparisonData(NamedTuple):
    """MNIST for the comparison: grey training and validation images, binary test."""

    x_train: Tensor
    y_train: Tensor
    x_valid: Tensor  # grey levels: fit binarizes them once, seeded
    y_valid: Tensor
    x_test: Tensor  # one fixed Bernoulli draw (seed 2)
    y_test: Tensor


def load_data(device: torch.device | str, settings: Settings) -> ComparisonData:
    """The training, validation and test images (as many as ``settings`` says)."""
    x_train, y_train = load_mnist("train", device, limit=settings.train_images)
    x_valid, y_valid = load_mnist("valid", device, limit=settings.valid_images)
    x_test, y_test = load_mnist("test", device, limit=settings.test_images)
    x_test = fixed_binarization(x_test, seed=2)
    return ComparisonData(x_train, y_train, x_valid, y_valid, x_test, y_test)


def train(
    model: VAE,
    variant: Variant,
    data: ComparisonData,
    settings: Settings,
    seed: int = 0,
    **overrides: Any,
) -> History:
    """Train ``model`` on the comparison's budget (``overrides`` change it), cached.

    The cache name is the variant's, and the configuration its posterior, prior and
    sizes and ``seed``, the seed ``model`` was built from, with ``overrides``'s
    ``config`` (what else defines the result, such as a learning curve's settings).

    Example:
        >>> variant, x = VARIANTS["Gaussian VAE"], torch.rand(64, 784)
        >>> data = ComparisonData(x, None, x[:16], None, None, None)
        >>> model = build(variant, SHORT)
        >>> history = train(model, variant, data, SHORT, epochs=2, cache=None)
        >>> [h["epoch"] for h in history], "valid_elbo" in history[-1]
        ([1, 2], True)
    """
    config = {"posterior": variant.posterior, "prior": variant.prior}
    config |= settings.sizes() | {"seed": seed} | overrides.pop("config", {})
    arguments = {
        "objective": variant.objective,
        "metric": variant.metric,
        "valid": data.x_valid,
        "binarization": "dynamic",
        "cache": variant.cache,
        "config": config,
        **settings.budget(),
        **overrides,
    }
    return fit(model, data.x_train, **arguments)


def train_variants(
    variants: dict[Any, Variant],
    data: ComparisonData,
    settings: Settings,
    device: torch.device | str,
    seed: int = 0,
) -> tuple[dict[Any, VAE], dict[Any, History]]:
    """Build (from ``seed``) and train every variant; the models and their histories.

    Example:
        >>> x = torch.rand(32, 784)
        >>> data = ComparisonData(x, None, x[:8], None, None, None)
        >>> variants = {"plain": Variant(None, "Gaussian", "Gaussian")}
        >>> models, histories = train_variants(variants, data, SHORT, "cpu")
        >>> type(models["plain"].encoder).__name__, len(histories["plain"])
        ('GaussianEncoder', 1)
    """
    models, histories = {}, {}
    for key, variant in variants.items():
        torch.manual_seed(seed)
        models[key] = build(variant, settings).to(device)
        histories[key] = train(models[key], variant, data, settings, seed)
    return models, histories


def score_variants(
    models: dict[Any, VAE],
    histories: dict[Any, History] | None,
    x_test: Tensor,
    settings: Settings,
    columns: Sequence[str] | None = None,
    reference: Any = None,
) -> dict[Any, dict[str, float]]:
    """A table row per model: its :func:`helpers.evaluation.score` on ``x_test`` with
    ``settings.k_is`` samples (``columns`` of :meth:`~helpers.evaluation.Scores.row`),
    then, unless ``histories`` is None, its mean seconds per training epoch (from its
    own training history: comparable across rows only if they trained in one process).

    With ``reference`` (a key of ``models``), each row also gets ``ΔNLL``, its NLL minus
    the reference model's, as a mean of per-image differences on the same images, and
    that mean's standard error ``ΔNLL s.e.`` (far smaller than either NLL's).

    Raises ``AssertionError`` where the importance-sampled log-likelihood falls below
    the ELBO by more than four standard errors: the estimator would be broken.

    Example:
        >>> model = build(VARIANTS["Gaussian VAE"], SHORT)
        >>> x = torch.bernoulli(torch.full((8, 784), 0.3))
        >>> history = [{"seconds": 2.0}]
        >>> rows = score_variants({"g": model}, {"g": history}, x, SHORT, ["NLL"], "g")
        >>> list(rows["g"]), rows["g"]["ΔNLL"]
        (['NLL', 'ΔNLL', 'ΔNLL s.e.', 's / epoch'], 0.0)
    """
    scores = {}
    for key, model in models.items():
        name = re.sub(r"\W+", "-", str(key)).strip("-").lower()
        scores[key] = score(model, x_test, settings.k_is, cache=name)  # once per model
        if not scores[key].bound_holds():
            raise AssertionError(f"{key}: importance sampling fell below the ELBO")
    rows = {}
    for key, scored in scores.items():
        rows[key] = scored.row(columns)
        if reference is not None:
            paired = scores[reference].log_px - scored.log_px
            rows[key]["ΔNLL"], rows[key]["ΔNLL s.e."] = mean_and_se(paired)
        if histories is not None:
            seconds = [record["seconds"] for record in histories[key]]
            rows[key]["s / epoch"] = sum(seconds) / len(seconds)
    return rows


def score_seeds(
    models: dict[int, dict[Any, VAE]], x_test: Tensor, settings: Settings
) -> dict[Any, list[Scores]]:
    """Every seed's model of every variant (``models[seed][variant]``) scored on
    ``x_test`` with ``settings.k_is`` samples, cached; by variant, in seed order.

    Raises ``AssertionError`` where the importance-sampled log-likelihood falls below
    the ELBO by more than four standard errors: the estimator would be broken.

    Example:
        >>> x = torch.bernoulli(torch.full((8, 784), 0.3))
        >>> models = {s: {"g": build(VARIANTS["Gaussian VAE"], SHORT)} for s in (0, 1)}
        >>> [s.log_px.shape for s in score_seeds(models, x, SHORT)["g"]]
        [torch.Size([8]), torch.Size([8])]
    """
    scores: dict[Any, list[Scores]] = {}
    for seed, seed_models in models.items():
        for key, model in seed_models.items():
            name = re.sub(r"\W+", "-", f"{key} seed {seed}").strip("-").lower()
            scored = score(model, x_test, settings.k_is, cache=name)
            if not scored.bound_holds():
                raise AssertionError(
                    f"{key}, seed {seed}: importance sampling fell below the ELBO"
                )
            scores.setdefault(key, []).append(scored)
    return scores


def seed_rows(
    log_px: dict[Any, Sequence[Tensor]], reference: Any
) -> dict[Any, dict[str, float]]:
    """A row per model from its per-image log p(x), one tensor per training seed.

    ``log_px[name][i]`` scores the same test images for every model, and the i-th
    seed's model of each variant is paired with the i-th of ``reference``. A row
    holds the NLL averaged over seeds, the standard deviation of the seeds' NLLs,
    and ``ΔNLL``, the mean over seeds of each seed's paired difference from the
    reference, whose standard error ``ΔNLL s.e.`` is the spread of those differences
    over sqrt(seeds): it counts the training noise as well as the test images'.

    Example:
        >>> ref = [torch.tensor([-90.0, -92.0]), torch.tensor([-91.0, -93.0])]
        >>> flow = [x + shift for x, shift in zip(ref, [3.0, 2.0])]
        >>> row = seed_rows({"ref": ref, "flow": flow}, "ref")["flow"]
        >>> {key: round(value, 2) for key, value in row.items()}
        {'NLL': 89.0, 'seed s.d.': 1.41, 'ΔNLL': -2.5, 'ΔNLL s.e.': 0.5}
    """
    rows = {}
    for key, per_seed in log_px.items():
        nll = torch.stack([-x.mean() for x in per_seed])
        pairs = zip(log_px[reference], per_seed, strict=True)
        paired = torch.stack([(ref - x).mean() for ref, x in pairs])
        n = len(per_seed)
        rows[key] = {
            "NLL": nll.mean().item(),
            "seed s.d.": nll.std().item() if n > 1 else math.nan,
            "ΔNLL": paired.mean().item(),
            "ΔNLL s.e.": (paired.std() / math.sqrt(n)).item() if n > 1 else math.nan,
        }
    return rows
