"""Shared plumbing of the book "Variational Autoencoders with Normalizing Flows".

Each module is one concern: ``runtime`` (mode, seed, device), ``data`` (MNIST on the device),
``models`` (encoders, decoders, priors), ``objectives`` (the ELBO), ``training`` (``fit``),
``cache`` (checkpoints), ``evaluation`` (likelihoods, active units), ``plots``, ``flows`` (planar and
radial flows, an amortized planar posterior), ``posteriors`` (an inverse autoregressive flow posterior),
``ppca`` (probabilistic PCA, the exact model of chapters 1-2), ``notebook`` (``glue``,
which works with or without myst-nb).
"""

from helpers.notebook import glue
from helpers.runtime import is_quick, setup

__all__ = ["glue", "is_quick", "setup"]
