"""The crystal domain: periodic structures (CIF, CDVAE-style CSV) -> beta-VAE -> CIF candidates.

The domain object is ``designer.domains.crystal.domain.DOMAIN``, found through ``designer.domains.get_domain``.
"""
