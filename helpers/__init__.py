"""Shared plumbing of the book "Variational Autoencoders with Normalizing Flows".

Each module is one concern: ``runtime`` (``setup`` and the :class:`Run` it returns:
full or short, device, seed), ``data`` (MNIST on the device), ``models`` (encoders,
decoders, priors), ``objectives`` (the ELBO), ``training`` (``fit``), ``cache``
(trained weights and scores on disk), ``evaluation`` (scores: ELBO, likelihoods,
active units), ``plots``, ``flows`` (planar and radial flows), ``posteriors`` (planar
and IAF posteriors), ``comparison`` (the settings and models chapters 8-10 compare),
``timing`` (clocks, device names, memory, MADE calls), ``ppca`` (probabilistic PCA,
the exact model of chapters 1-2), ``notebook`` (``glue``, with or without myst-nb).
"""

from helpers.notebook import glue
from helpers.runtime import Run, setup

__all__ = ["Run", "glue", "setup"]
