"""designer: inverse design of crystals and proteins with a beta-VAE, latent-space BO and a synthesis scorecard.

Use from Python (the same functions the ``designer`` command line calls; ``designer.api``)::

    import designer

    model = designer.load("perov5")            # shipped name, run folder or model.pt
    samples = model.sample(8, seed=0)          # pymatgen Structures (SeqRecords for sequence models)
    z = model.encode(samples.objects)          # n x d posterior means
    table = model.predict(samples.objects)     # pred_<p>, pred_<p>_std, plausibility_percentile
    again = model.decode(z)                    # Generated: .objects, .z, .table
    result = designer.design("perov5", **{"design.rounds": 1})   # .candidates (DataFrame), .files
    scores = designer.score(["a.cif", "b.cif"], run="perov5")    # DataFrame, one row per input

The API is imported on first use, so ``import designer`` (and ``designer --help``) stays fast.
"""

__version__ = "0.1.0"

__all__ = ["DesignerError", "DesignOutput", "Generated", "Model", "__version__", "design", "load", "score"]

_API = {"DesignOutput", "Generated", "Model", "design", "load", "score"}


def __getattr__(name: str):
    if name in _API:
        from designer import api

        return getattr(api, name)
    if name == "DesignerError":
        from designer.errors import DesignerError

        return DesignerError
    raise AttributeError(f"module 'designer' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
