"""Made once: `python tests/data/mattergen/make_fixture.py PATH/TO/mattergen_cifs/cifs.zip`.

Six of MatterGen's released CIFs (github.com/microsoft/mattergen, data-release/cifs.zip, MIT licence,
commit ac9ddd4), read and written with ASE exactly as MatterGen writes ``generated_crystals.extxyz``
(``ase.io.write(path, atoms_list, format="extxyz")``), so `designer score` is tested on that format.
"""

import io
import sys
import zipfile
from pathlib import Path

import ase.io

NAMES = ["TiZnN6.cif", "HfZnN6.cif", "CuBiPbS17.cif", "MnSe17O.cif", "H2CSN8O.cif", "RbMgSnF16_symmetrized.cif"]


def main(zip_path: str) -> None:
    frames = []
    with zipfile.ZipFile(zip_path) as z:
        members = {Path(n).name: n for n in z.namelist() if n.endswith(".cif")}
        for name in NAMES:
            frames.append(ase.io.read(io.StringIO(z.read(members[name]).decode()), format="cif"))
    ase.io.write(Path(__file__).with_name("generated_crystals.extxyz"), frames, format="extxyz")


if __name__ == "__main__":
    main(sys.argv[1])
