"""Writes the malformed-input corpus of tests/test_bad_input_corpus.py into this folder.

The corpus files are committed; rerun this (``python tests/data/bad/make_corpus.py``) after changing a
case here. It rewrites every corpus file (byte-identical when nothing changed: seeded junk, gzip
without a timestamp) and removes corpus files it no longer writes. Names say what is wrong; the
prefix says which commands receive the file (see the test module's docstring).
"""
from __future__ import annotations

import gzip
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent
PREFIXES = ("cif_", "csv_", "labels_", "fasta_", "a3m_", "seqcsv_", "mut_", "yaml_", "meas_")
for f in OUT.iterdir():
    if f.is_file() and f.name.startswith(PREFIXES):
        f.unlink()

def w(name, data):
    p = OUT / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

def cif(a=3.905, b=None, c=None, alpha="90.0", beta="90.0", gamma="90.0", sites=None, symops="  1  'x, y, z'\n",
        name="SrTiO3", occ=True, extra_header=""):
    b = a if b is None else b
    c = a if c is None else c
    if sites is None:
        sites = [("Sr", 0.0, 0.0, 0.0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0.0, 1),
                 ("O", 0.5, 0.0, 0.5, 1), ("O", 0.0, 0.5, 0.5, 1)]
    rows = "".join(f"  {el}  {el}{k}  {x}  {y}  {z}  {o}\n" for k, (el, x, y, z, o) in enumerate(sites))
    return (f"# hand-written test input\ndata_{name}\n_symmetry_space_group_name_H-M   'P 1'\n{extra_header}"
            f"_cell_length_a   {a}\n_cell_length_b   {b}\n_cell_length_c   {c}\n"
            f"_cell_angle_alpha   {alpha}\n_cell_angle_beta   {beta}\n_cell_angle_gamma   {gamma}\n"
            f"_symmetry_Int_Tables_number   1\nloop_\n _symmetry_equiv_pos_site_id\n _symmetry_equiv_pos_as_xyz\n{symops}"
            "loop_\n _atom_site_type_symbol\n _atom_site_label\n _atom_site_fract_x\n _atom_site_fract_y\n"
            f" _atom_site_fract_z\n _atom_site_occupancy\n{rows}")

GOOD = cif()
rng = random.Random(19)
JUNK = bytes(rng.randrange(256) for _ in range(600)) + b"\x00\x00\x01\x02"
LATIN1_TEXT = "Donn\xe9es cristallographiques: \xe9chantillon de r\xe9f\xe9rence, pr\xe9par\xe9 \xe0 Montr\xe9al\n".encode("latin-1")

# ------------------------------------------------------------------ CIF files
w("cif_truncated_mid_atom_loop.cif", GOOD[: GOOD.index("  Ti  Ti1") + 9])
w("cif_truncated_after_cell_a.cif", GOOD[: GOOD.index("_cell_length_b")])
w("cif_no_atoms.cif", GOOD[: GOOD.index("loop_\n _atom_site_type_symbol")])
w("cif_atom_loop_header_no_rows.cif", cif(sites=[]))
pm3m_ops = ["x, y, z", "-x, -y, z", "-x, y, -z", "x, -y, -z", "z, x, y", "z, -x, -y", "-z, -x, y", "-z, x, -y"]
w("cif_symmetry_ops_no_atom_sites.cif",
  "data_symops_only\n_symmetry_space_group_name_H-M   'P m -3 m'\n_cell_length_a   3.905\n_cell_length_b   3.905\n"
  "_cell_length_c   3.905\n_cell_angle_alpha   90\n_cell_angle_beta   90\n_cell_angle_gamma   90\n"
  "_symmetry_Int_Tables_number   221\nloop_\n _symmetry_equiv_pos_site_id\n _symmetry_equiv_pos_as_xyz\n"
  + "".join(f"  {k + 1}  '{op}'\n" for k, op in enumerate(pm3m_ops)))
w("cif_occupancy_sum_above_1.cif", cif(sites=[("Sr", 0, 0, 0, 0.7), ("Ba", 0, 0, 0, 0.7), ("Ti", 0.5, 0.5, 0.5, 1),
                                               ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_occupancy_1p5_single_site.cif", cif(sites=[("Sr", 0, 0, 0, 1.5), ("Ti", 0.5, 0.5, 0.5, 1),
                                                  ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_partial_occupancy_0p5.cif", cif(sites=[("Sr", 0, 0, 0, 0.5), ("Ti", 0.5, 0.5, 0.5, 1),
                                              ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_mixed_site_sr_ba_half_half.cif", cif(sites=[("Sr", 0, 0, 0, 0.5), ("Ba", 0, 0, 0, 0.5), ("Ti", 0.5, 0.5, 0.5, 1),
                                                   ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_unknown_element_Xx.cif", cif(sites=[("Xx", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1),
                                           ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_unknown_element_Qq.cif", cif(sites=[("Qq", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1),
                                           ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_element_symbol_digits_123.cif", cif(sites=[("123", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1),
                                                  ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_length_negative.cif", cif(a=-3.905, b=3.905, c=3.905))
w("cif_length_zero.cif", cif(a=0.0, b=3.905, c=3.905))
w("cif_length_nan.cif", cif(a="nan", b=3.905, c=3.905))
w("cif_length_inf.cif", cif(a="inf", b=3.905, c=3.905))
w("cif_length_question_mark.cif", cif(a="?", b=3.905, c=3.905))
w("cif_length_text.cif", cif(a="four", b=3.905, c=3.905))
w("cif_angle_minus90.cif", cif(alpha="-90.0"))
w("cif_angle_minus90_with_uncertainty.cif", cif(beta="-90.00(2)"))
w("cif_angle_zero.cif", cif(gamma="0.0"))
w("cif_angle_180.cif", cif(alpha="180.0"))
w("cif_angle_200.cif", cif(beta="200.0"))
w("cif_angles_120_120_120_flat_cell.cif", cif(alpha="120.0", beta="120.0", gamma="120.0"))
w("cif_cell_0p05_angstrom.cif", cif(a=0.05))
w("cif_cell_edge_600_angstrom.cif", cif(a=600.0))
w("cif_cell_huge_1e6_angstrom.cif", cif(a=1.0e6))
w("cif_cell_mostly_vacuum_300_angstrom.cif", cif(a=300.0, sites=[("Sr", 0, 0, 0, 1)]))
w("cif_cell_volume_per_atom_below_1.cif",
  cif(a=2.0, sites=[("O", x / 3, y / 3, 0.0, 1) for x in range(3) for y in range(3)]))
w("cif_duplicate_atoms_same_position.cif", cif(sites=[("Sr", 0, 0, 0, 1), ("Sr", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1),
                                                      ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_two_species_same_position.cif", cif(sites=[("Sr", 0, 0, 0, 1), ("Ba", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1),
                                                  ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
# 21 atoms (> the shipped perov5 model's max_atoms 20, designer/pipelines/perov5.yaml): an O-Ti chain
w("cif_21_atoms_over_max_atoms.cif",
  cif(a=3.9, b=3.9, c=3.9 * 21 / 2, sites=[("Ti" if k % 2 else "O", 0.0, 0.0, round(k / 21, 6), 1) for k in range(21)]))
w("cif_64_atoms_over_max_atoms.cif",
  cif(a=12.0, b=12.0, c=12.0, sites=[("Ti" if (i + j + k) % 2 else "O", i / 4, j / 4, k / 4, 1)
                                      for i in range(4) for j in range(4) for k in range(4)]))
w("cif_two_atoms_0p01_angstrom_apart.cif", cif(sites=[("Sr", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0.0025, 1),
                                                      ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_coordinate_nan.cif", cif(sites=[("Sr", "nan", 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1),
                                       ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_coordinate_text.cif", cif(sites=[("Sr", "abc", 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1),
                                        ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_missing_fract_z_column.cif", GOOD.replace(" _atom_site_fract_z\n", "").replace("  0.0  1\n", "  1\n"))
w("cif_bad_symmetry_operation.cif", cif(symops="  1  'x, y, q'\n"))
w("cif_second_block_partial_occupancy.cif", GOOD + "\n" + cif(name="second", sites=[
    ("Sr", 0, 0, 0, 0.5), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1), ("O", 0, 0.5, 0.5, 1)]))
w("cif_second_block_no_atoms.cif", GOOD + "\ndata_empty_second\n_cell_length_a 4.0\n_cell_length_b 4.0\n"
  "_cell_length_c 4.0\n_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n")
w("cif_not_a_cif_html.cif", "<html><body>404 Not Found</body></html>\n")
w("cif_only_comments.cif", "# a CIF file\n# with nothing but comments\n")
w("cif_empty.cif", b"")
w("cif_whitespace_only.cif", "   \n\n\t \n")
w("cif_latin1_prose.cif", LATIN1_TEXT)
w("cif_binary_junk.cif", JUNK)
w("cif_gzip_truncated.cif", gzip.compress(GOOD.encode(), mtime=0)[:60])
w("cif_json_document.cif", '{"lattice": [[4,0,0],[0,4,0],[0,0,4]], "species": ["Sr"]}\n')

# ------------------------------------------------------------------ crystal CSVs (reconstruct perov5)
def q(s):
    return '"' + s.replace('"', '""') + '"'

w("csv_no_cif_column.csv", ",material_id,structure,heat_ref\n0,mp-1," + q(GOOD) + ",-1.0\n")
w("csv_semicolon_delimiter.csv", "material_id;cif;heat_ref\nmp-1;" + q(GOOD) + ";-1.0\n")
w("csv_tab_delimiter.csv", "material_id\tcif\theat_ref\nmp-1\t" + q(GOOD) + "\t-1.0\n")
w("csv_empty.csv", b"")
w("csv_whitespace_only.csv", "\n\n   \n")
w("csv_header_only.csv", ",material_id,cif,heat_ref\n")
w("csv_cif_cell_garbage.csv", ",material_id,cif,heat_ref\n0,mp-1,this is not a CIF,-1.0\n")
w("csv_cif_cell_empty.csv", ",material_id,cif,heat_ref\n0,mp-1," + q(GOOD) + ",-1.0\n1,mp-2,,-0.5\n")
w("csv_cif_cell_number.csv", ",material_id,cif,heat_ref\n0,mp-1,42,-1.0\n")
w("csv_latin1_bytes.csv", b",material_id,cif,heat_ref\n0,caf\xe9-1," + q(GOOD).encode() + b",-1.0\n")
w("csv_binary_junk.csv", JUNK)
w("csv_gzip_truncated.csv.gz", gzip.compress((",material_id,cif\n0,mp-1," + q(GOOD) + "\n").encode(), mtime=0)[:50])
w("csv_cif_partial_occupancy.csv", ",material_id,cif,heat_ref\n0,mp-1," + q(GOOD) + ",-1.0\n1,mp-2," +
  q(cif(sites=[("Sr", 0, 0, 0, 0.5), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1),
               ("O", 0, 0.5, 0.5, 1)])) + ",-0.5\n")
w("csv_cif_unknown_element_Xx.csv", ",material_id,cif,heat_ref\n0,mp-1," +
  q(cif(sites=[("Xx", 0, 0, 0, 1), ("Ti", 0.5, 0.5, 0.5, 1), ("O", 0.5, 0.5, 0, 1), ("O", 0.5, 0, 0.5, 1),
               ("O", 0, 0.5, 0.5, 1)])) + ",-0.5\n")
w("csv_cif_angle_minus90.csv", ",material_id,cif,heat_ref\n0,mp-1," + q(cif(alpha="-90.0")) + ",-0.5\n")
w("csv_cif_21_atoms_over_max_atoms.csv", ",material_id,cif,heat_ref\n0,mp-1," +
  q(cif(a=3.9, b=3.9, c=3.9 * 21 / 2, sites=[("Ti" if k % 2 else "O", 0.0, 0.0, round(k / 21, 6), 1) for k in range(21)]))
  + ",-0.5\n")
w("csv_ragged_row_extra_fields.csv", "material_id,cif,heat_ref\nmp-1,x,-1.0,extra,more,fields\nmp-2,y\n")
w("csv_unclosed_quote.csv", ',material_id,cif,heat_ref\n0,mp-1,"' + GOOD + ',-1.0\n')

# ------------------------------------------------------------------ labelled crystal CSVs (train, via a pipeline)
def labelled(values, column="heat_ref"):
    header = f",material_id,cif,{column}\n" if column else ",material_id,cif\n"
    body = ""
    for k, v in enumerate(values):
        a = round(3.85 + 0.02 * k, 3)
        body += f"{k},m-{k}," + q(cif(a=a)) + (f",{v}\n" if column else "\n")
    return header + body

w("labels_inf_heat_ref.csv", labelled([-1.0, -0.9, "inf", -0.8, -0.7, -0.6, -0.5, -0.4]))
w("labels_text_heat_ref.csv", labelled([-1.0, -0.9, "high", -0.8, -0.7, -0.6, -0.5, -0.4]))
w("labels_all_nan_heat_ref.csv", labelled(["nan"] * 8))
w("labels_all_empty_heat_ref.csv", labelled([""] * 8))
w("labels_outlier_1e30_heat_ref.csv", labelled([-1.0, -0.9, 1e30, -0.8, -0.7, -0.6, -0.5, -0.4]))
w("labels_no_heat_ref_column.csv", labelled([-1.0] * 8, column="band_gap"))

# ------------------------------------------------------------------ proteins (reconstruct gfp)
GFP = ("SKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTLSYGVQCFSRYPDHMKQHDFFKSAMPEGYVQERTIFFKDDGNYKT"
       "RAEVKFEGDTLVNRIELKGIDFKEDGNILGHKLEYNYNSHNVYIMADKQKNGIKVNFKIRHNIEDGSVQLADHYQQNTPIGDGPVLLPDNHYLSTQSALSKDPNEK"
       "RDHMVLLEFVTAAGITHGMDELYK")
assert len(GFP) == 237
def wrap(s):
    return "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n"
DNA = "".join(rng.choice("ACGT") for _ in range(300))
w("fasta_empty_record.fasta", ">empty\n>wt\n" + wrap(GFP))
w("fasta_only_empty_record.fasta", ">nothing_here\n")
w("fasta_all_gap_sequence.fasta", ">gaps\n" + wrap("-" * 237))
w("fasta_gaps_in_unaligned.fasta", ">gapped\n" + wrap(GFP[:50] + "---" + GFP[53:]))
w("fasta_digits_in_sequence.fasta", ">digits\n" + wrap(GFP[:100] + "123" + GFP[103:]))
w("fasta_punctuation_in_sequence.fasta", ">punct\n" + wrap(GFP[:100] + "!?@" + GFP[103:]))
w("fasta_non_ascii_residues.fasta", ">accents\n" + wrap(GFP[:100] + "\u00c9\u00c9\u00c9" + GFP[103:]))
w("fasta_dna_sequence.fasta", ">dna\n" + wrap(DNA))
w("fasta_rna_sequence.fasta", ">rna\n" + wrap(DNA.replace("T", "U")))
w("fasta_stop_as_first_residue.fasta", ">stop_first\n" + wrap("*" + GFP))
w("fasta_all_stop_codons.fasta", ">stops\n" + wrap("*" * 20))
w("fasta_not_fasta_prose.fasta", "This file holds no sequences.\nJust a note about GFP.\n")
w("fasta_sequence_without_header.fasta", wrap(GFP))
w("fasta_json_document.fasta", '{"id": "wt", "sequence": "SKGEELF"}\n')
w("fasta_latin1_header.fasta", b">prot\xe9ine\n" + wrap(GFP).encode())
w("fasta_binary_junk.fasta", JUNK)
w("fasta_empty.fasta", b"")
w("fasta_whitespace_only.fasta", "\n \n\t\n")
w("fasta_gzip_truncated.fasta", gzip.compress((">wt\n" + wrap(GFP)).encode(), mtime=0)[:40])
w("a3m_unequal_match_widths.a3m", ">wt\n" + GFP + "\n>short\n" + GFP[:200] + "\n")
w("a3m_width_differs_from_reference.a3m", ">a\n" + GFP[:120] + "\n>b\n" + GFP[:120] + "\n")
w("a3m_digits_in_sequence.a3m", ">wt\n" + GFP + "\n>digits\n" + GFP[:10] + "99" + GFP[12:] + "\n")
w("a3m_empty_record.a3m", ">wt\n" + GFP + "\n>empty\n")
w("a3m_all_gap_records.a3m", ">gaps1\n" + "-" * 237 + "\n>gaps2\n" + "-" * 237 + "\n")
w("a3m_dna_alignment.a3m", ">d1\n" + DNA[:237] + "\n>d2\n" + DNA[1:238] + "\n")
w("a3m_not_fasta_prose.a3m", "not an alignment\n")
w("a3m_latin1_header.a3m", b">s\xe9q\n" + GFP.encode() + b"\n")
w("a3m_binary_junk.a3m", JUNK)
w("seqcsv_empty_sequence_cell.csv", "id,sequence\nwt," + GFP + "\nblank,\n")
w("seqcsv_digits_in_sequence.csv", "id,sequence\nd," + GFP[:5] + "42" + GFP[7:] + "\n")
w("seqcsv_dna_sequences.csv", "id,sequence\nd1," + DNA + "\nd2," + DNA[::-1] + "\n")
w("seqcsv_header_only.csv", "id,sequence\n")
w("seqcsv_gaps_in_sequence.csv", "id,sequence\ng," + GFP[:30] + "--" + GFP[32:] + "\n")
w("seqcsv_latin1_id.csv", b"id,sequence\nprot\xe9ine," + GFP.encode() + b"\n")
# mutation tables (gfp: column aaMutations, 0-based, wild type checked)
w("mut_position_past_end.csv", "aaMutations,medianBrightness\nSA108D,3.1\nSK300R,2.0\n")
w("mut_huge_position.csv", "aaMutations,medianBrightness\nSA99999999999999999999G,2.0\n")
w("mut_wrong_wildtype_letter.csv", "aaMutations,medianBrightness\nSW108D,3.1\n")
w("mut_wrong_wildtype_one_based.csv", "aaMutations,medianBrightness\nSK3R,3.1\n")  # ref[3] (0-based) is E, ref[2] is G
w("mut_malformed_no_position.csv", "aaMutations,medianBrightness\nSAD,3.1\n")
w("mut_malformed_missing_mutant.csv", "aaMutations,medianBrightness\nSA108,3.1\n")
w("mut_malformed_free_text.csv", "aaMutations,medianBrightness\nbrighter variant,3.1\n")
w("mut_insertion_notation.csv", "aaMutations,medianBrightness\nA108_E109insG,3.1\n")
w("mut_deletion_notation.csv", "aaMutations,medianBrightness\nA108del,3.1\n")
w("mut_negative_position.csv", "aaMutations,medianBrightness\nA-1G,3.1\n")
w("mut_lowercase_mutation.csv", "aaMutations,medianBrightness\nsa108d,3.1\n")
w("mut_semicolon_delimited_table.csv", "aaMutations;medianBrightness\nSA108D;3.1\n")
w("mut_header_only.csv", "aaMutations,medianBrightness\n")
w("mut_wrong_wildtype.tsv", "aaMutations\tmedianBrightness\nSY108D\t3.1\n")
w("mut_latin1_bytes.tsv", b"aaMutations\tmedianBrightness\tnote\nSA108D\t3.1\tcaf\xe9\n")
w("mut_binary_junk.tsv", JUNK)

# ------------------------------------------------------------------ measurements (observe)
w("meas_no_id_column.csv", "name,heat_ref\nr1-001,-0.5\n")
w("meas_semicolon_delimiter.csv", "id;heat_ref\nr1-001;-0.5\n")
w("meas_unknown_ids.csv", "id,heat_ref\nnot-proposed-1,-0.5\nnot-proposed-2,-0.4\n")
w("meas_nan_value.csv", "id,heat_ref\nr1-001,nan\n")
w("meas_inf_value.csv", "id,heat_ref\nr1-001,inf\n")
w("meas_minus_inf_value.csv", "id,heat_ref\nr1-001,-inf\n")
w("meas_text_value.csv", "id,heat_ref\nr1-001,very stable\n")
w("meas_no_property_column.csv", "id,band_gap\nr1-001,1.2\n")
w("meas_empty.csv", b"")
w("meas_header_only.csv", "id,heat_ref\n")
w("meas_empty_id.csv", "id,heat_ref\nr1-001,-0.5\n,-0.4\n")
w("meas_duplicate_id.csv", "id,heat_ref\nr1-001,-0.5\nr1-001,-0.4\n")
w("meas_row_without_value.csv", "id,heat_ref\nr1-001,\n")
w("meas_second_row_bad_value.csv", "id,heat_ref\nr1-001,-0.5\nr1-002,oops\n")
w("meas_latin1_bytes.csv", b"id,heat_ref,note\nr1-001,-0.5,mesur\xe9\n")
w("meas_binary_junk.csv", JUNK)
w("meas_cif_path_missing.csv", "id,heat_ref,cif\nlab-1,-0.5,no_such_structure.cif\n")
w("meas_cif_path_partial_occupancy.csv", "id,heat_ref,cif\nlab-1,-0.5,cif_partial_occupancy_0p5.cif\n")
w("meas_cif_path_unknown_element.csv", "id,heat_ref,cif\nlab-1,-0.5,cif_unknown_element_Xx.cif\n")

# ------------------------------------------------------------------ pipelines (train)
BASE = """name: bad_{n}
domain: crystal
seed: 0
data:
  train: no_data_for_config_cases.csv
  properties: [heat_ref]
  max_atoms: 8
model: {{latent_dim: 8, hidden: 16, encoder_layers: 1, feature_dim: 32, decoder_hidden: 32, decoder_layers: 1, property_hidden: 16}}
loss:
  beta: 0.01
train:
  epochs: 2
  batch_size: 8
  max_minutes: 1
"""
def y(name, text):
    w(name, text)
def base(n):
    return BASE.format(n=n)

y("yaml_syntax_error_unclosed_bracket.yaml", base("a").replace("properties: [heat_ref]", "properties: [heat_ref"))
y("yaml_syntax_error_bad_indentation.yaml", base("b").replace("  max_atoms: 8", "    max_atoms: 8\n   cutoff: 7"))
y("yaml_tab_indentation.yaml", base("c").replace("  epochs: 2", "\tepochs: 2"))
y("yaml_python_object_tag.yaml", base("d").replace("name: bad_d", "name: !!python/object/apply:os.system ['echo pwned']"))
y("yaml_python_name_tag.yaml", base("e").replace("seed: 0", "seed: !!python/name:os.getcwd"))
y("yaml_top_level_typo_dataa.yaml", base("f").replace("data:", "dataa:"))
y("yaml_top_level_unknown_key.yaml", base("g") + "optimizer: adam\n")
y("yaml_nested_typo_train_epoch.yaml", base("h").replace("  epochs: 2", "  epoch: 2"))
y("yaml_nested_typo_loss_betta.yaml", base("i").replace("  beta: 0.01", "  betta: 0.01"))
y("yaml_wrong_type_epochs_text.yaml", base("j").replace("  epochs: 2", "  epochs: many"))
y("yaml_wrong_type_epochs_float.yaml", base("k").replace("  epochs: 2", "  epochs: 2.5"))
y("yaml_wrong_type_properties_mapping.yaml", base("l").replace("properties: [heat_ref]", "properties: {heat_ref: 1}"))
y("yaml_wrong_type_model_list.yaml", base("m").replace("model: {latent_dim", "model: [latent_dim").replace("property_hidden: 16}", "property_hidden: 16]"))
y("yaml_negative_epochs.yaml", base("n").replace("  epochs: 2", "  epochs: -5"))
y("yaml_zero_batch_size.yaml", base("o").replace("  batch_size: 8", "  batch_size: 0"))
y("yaml_negative_learning_rate.yaml", base("p").replace("  max_minutes: 1", "  max_minutes: 1\n  lr: -0.001"))
y("yaml_beta_inf.yaml", base("q").replace("  beta: 0.01", "  beta: .inf"))
y("yaml_beta_nan.yaml", base("r").replace("  beta: 0.01", "  beta: .nan"))
y("yaml_beta_negative.yaml", base("s").replace("  beta: 0.01", "  beta: -1"))
y("yaml_max_atoms_zero.yaml", base("t").replace("max_atoms: 8", "max_atoms: 0"))
y("yaml_max_atoms_1000.yaml", base("u").replace("max_atoms: 8", "max_atoms: 1000"))
y("yaml_seed_negative.yaml", base("v").replace("seed: 0", "seed: -1"))
y("yaml_seed_too_large.yaml", base("w").replace("seed: 0", "seed: 4294967296"))
y("yaml_holdout_fraction_1.yaml", base("x").replace("  max_atoms: 8", "  max_atoms: 8\n  holdout_fraction: 1.0"))
y("yaml_unknown_domain.yaml", base("y").replace("domain: crystal", "domain: crystl"))
y("yaml_missing_name.yaml", base("z").replace("name: bad_z\n", ""))
y("yaml_missing_data_section.yaml", base("aa").split("data:")[0] + "train:\n  epochs: 2\n")
y("yaml_list_not_mapping.yaml", "- name: bad\n- data: x.csv\n")
y("yaml_scalar_not_mapping.yaml", "just a string\n")
y("yaml_empty.yaml", b"")
y("yaml_latin1_bytes.yaml", base("ab").replace("name: bad_ab", "name: bad_ab  # ") .encode() .replace(b"#", b"# r\xe9sum\xe9"))
y("yaml_binary_junk.yaml", JUNK)
y("yaml_control_character.yaml", base("ah").replace("seed: 0", "seed: 0\x01"))
y("yaml_missing_data_path.yaml", base("ac").replace("no_data_for_config_cases.csv", "no_such_training_file.csv"))
y("yaml_data_train_garbage_csv.yaml", base("ad").replace("no_data_for_config_cases.csv", "csv_cif_cell_garbage.csv"))
y("yaml_data_train_partial_occupancy_cif.yaml", base("ae").replace("no_data_for_config_cases.csv", "cif_partial_occupancy_0p5.cif"))
y("yaml_mutation_table_without_index_base.yaml",
  "name: bad_af\ndomain: protein\ndata:\n  train: mut_wrong_wildtype_letter.csv\n  properties: [medianBrightness]\n"
  "  sequences:\n    format: mutations\n    mutation_column: aaMutations\n    reference: " + GFP + "\n"
  "train: {epochs: 2, max_minutes: 1}\n")
y("yaml_protein_wrong_index_base.yaml",
  "name: bad_ag\ndomain: protein\ndata:\n  train: mut_wrong_wildtype_letter.csv\n  properties: [medianBrightness]\n"
  "  sequences:\n    format: mutations\n    mutation_column: aaMutations\n    reference: " + GFP + "\n    index_base: 2\n"
  "train: {epochs: 2, max_minutes: 1}\n")
print(sum(f.name.startswith(PREFIXES) for f in OUT.iterdir()), "corpus files in", OUT)
