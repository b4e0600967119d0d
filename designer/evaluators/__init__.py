"""Third-party property evaluators shipped with designer (independent of the models designer trains).

``designer.evaluators.cdvae``: the three DimeNet++ property models CDVAE trained for its benchmark
(perovskite heat_ref, carbon energy_per_atom, mp20 formation_energy_per_atom), DESIGN section 5a.
"""

from designer.evaluators.cdvae import EVALUATORS, CDVAEEvaluator, CrystalGraph, crystal_graph

__all__ = ["EVALUATORS", "CDVAEEvaluator", "CrystalGraph", "crystal_graph"]
