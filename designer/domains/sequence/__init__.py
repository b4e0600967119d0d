"""The sequence domain: aligned sequences (proteins, or any fixed alphabet) -> beta-VAE -> FASTA candidates.

The domain object is ``designer.domains.sequence.domain.DOMAIN``, found through ``designer.domains.get_domain``.
"""
