"""Find what arrived in the raw folder: exercises, workbooks, finance exports, and non-reports.

Kept apart from parsing and loading so the sensor can fingerprint a drop cheaply (size, mtime,
sha256) without reading any spreadsheet, and so every file seen is classified exactly once.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

EXERCICE_DIR = re.compile(r"^\d{4}$")
# the kit asks for .xlsx or .ods; .xls (Excel 97-2003), which an old Excel still saves, is
# tolerated: the parser reads it by content (parsing/workbook.py), as the others
# .xlsm: an .xlsx saved with macros (never run: calamine reads the cells only)
WORKBOOK_SUFFIXES = {".xlsx", ".ods", ".xls", ".xlsm"}
FINANCE_SUFFIXES = {".csv"}

KIND_OPERATEUR = "operateur"
KIND_FINANCES = "finances"
KIND_AUTRE = "autre"


@dataclass(frozen=True)
class RawFile:
    """One file found under ``<raw>/<exercice>/``; ``source_file`` is relative to the raw dir."""

    exercice: int
    path: Path
    source_file: str
    kind: str
    size_bytes: int
    mtime_ns: int
    ignore_reason: str | None = None

    @property
    def file_name(self) -> str:
        """The name as recorded (see :func:`recorded_name`), not always ``path.name``."""
        return self.source_file.rsplit("/", 1)[-1]


def discover_exercices(raw_dir: Path) -> list[int]:
    """Every ``<raw>/<AAAA>/`` folder is an exercise to load."""
    if not raw_dir.is_dir():
        return []
    return sorted(
        int(p.name) for p in raw_dir.iterdir() if p.is_dir() and EXERCICE_DIR.match(p.name)
    )


def stray_entries(raw_dir: Path) -> list[str]:
    """What lies directly under the raw folder and is not an exercise folder (``AAAA/``): a
    folder named ``Exercice 2021``, a workbook dropped at the root. Never loaded (the contract
    names ``<exercice>/operateurs`` and ``<exercice>/finances``), but said, not passed over in
    silence. Hidden entries (``.DS_Store``) are left out."""
    if not raw_dir.is_dir():
        return []
    return sorted(
        recorded_name(p.name) + ("/" if p.is_dir() else "")
        for p in raw_dir.iterdir()
        if not p.name.startswith(".") and not (p.is_dir() and EXERCICE_DIR.match(p.name))
    )


def _classify(folder: str, name: str) -> tuple[str, str | None]:
    suffix = os.path.splitext(name)[1].lower()
    if name.startswith("~$") or name.startswith(".~lock"):
        return KIND_AUTRE, "fichier verrou d'Excel/LibreOffice, pas un rapport"
    if name.startswith("."):
        return KIND_AUTRE, "fichier caché, pas un rapport"
    if folder == "operateurs" and suffix in WORKBOOK_SUFFIXES:
        return KIND_OPERATEUR, None
    if folder == "finances" and suffix in FINANCE_SUFFIXES:
        return KIND_FINANCES, None
    if folder not in ("operateurs", "finances"):  # not its extension's fault: its place's
        where = f"dans {folder}/" if folder else "à la racine de l'exercice"
        return KIND_AUTRE, f"{where}, hors de operateurs/ et finances/ : pas lu"
    return KIND_AUTRE, f"extension « {suffix or '(aucune)'} » non attendue dans {folder}/"


def recorded_name(name: str) -> str:
    """A file or folder name as it can be recorded (manifest, rejections, digests).

    Names the file system gives as bytes that are not UTF-8 (an archive unzipped from Windows
    leaves Latin-1 names) reach Python with surrogate escapes, which no database, digest or log
    accepts. Their undecodable bytes are written ``\\xe9``: readable, and distinct from the
    folder's other names (the manifest's key) unless one is literally spelt with such escapes.
    The file itself is still opened by its real path.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def discover_files(raw_dir: Path, exercice: int) -> list[RawFile]:
    """All files of one exercise, workbooks and exports first-class, anything else ``autre``.

    Files outside ``operateurs/`` and ``finances/`` (a note dropped at the exercise root) are
    listed as ignored too: nothing that arrives goes unrecorded.
    """
    root = raw_dir / str(exercice)
    found: list[RawFile] = []
    # plain strings per file, one Path each: pathlib's joins and relative_to cost ~50 µs a file
    root_s = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(root_s):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root_s)
        parts = () if rel == os.curdir else tuple(recorded_name(p) for p in rel.split(os.sep))
        folder = parts[0] if parts else ""
        prefix = "/".join((str(exercice), *parts))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:  # vanished between listing and stat: the next run sees it
                continue
            shown = recorded_name(name)  # the ignore reason quotes the extension too
            kind, why = _classify(folder, shown)
            if len(parts) > 1 and kind != KIND_AUTRE:
                kind, why = KIND_AUTRE, "sous-dossier non attendu"
            found.append(
                RawFile(
                    exercice=exercice,
                    path=Path(full),
                    source_file=f"{prefix}/{shown}",
                    kind=kind,
                    size_bytes=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    ignore_reason=why,
                )
            )
    return found


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_files(
    files: Iterable[RawFile], known: Mapping[str, tuple[int, int, str]] | None = None
) -> dict[str, str]:
    """sha256 per source_file, reusing a known hash when size and mtime are unchanged (as git does).

    ``known`` maps source_file → (size_bytes, mtime_ns, sha256) from the previous manifest. A file
    that cannot be read gets ``""``: never reused, never equal to a real hash, so the next run
    reads it again (a workbook locked on a share for one night is loaded the next).
    """
    known = known or {}
    out: dict[str, str] = {}
    for f in files:
        prev = known.get(f.source_file)
        # an empty known hash is a file that could not be read: read it again
        if prev and prev[2] and prev[0] == f.size_bytes and prev[1] == f.mtime_ns:
            out[f.source_file] = prev[2]
        else:
            try:
                out[f.source_file] = sha256_file(f.path)
            except OSError:
                out[f.source_file] = ""
    return out


def digest_lines(items: Iterable[str]) -> str:
    """sha256 of a set of lines, order-independent (sorted): the loader's input_sha256 and the
    state digest are built this way, so they can be compared."""
    h = hashlib.sha256()
    for it in sorted(items):
        h.update(it.encode())
        h.update(b"\n")
    return h.hexdigest()


def convention_candidate(
    num_convention: str | None, refusal: str | None, file_name: str, exercice: int
) -> str | None:
    """The convention a workbook takes part under in :func:`newest_per_convention`: the N° it
    was read with or, for a workbook refused because it could not be opened at all (``refusal``:
    its refusal's reason, None when not refused; unreadable, truncated while being copied,
    password-protected: ``parsing.workbook.refused_unopened``), the number its file name carries
    for this exercise. A correction that cannot be read must not hand its convention back,
    silently, to the version it corrects; a readable file that is not a report (a side list
    named after the convention) takes no part (a cold review saw one replace the convention's
    good workbook). Shared by the loader and the published state's record
    (:mod:`dagster_project.state`), which must name the same winners."""
    if num_convention is not None or refusal is None:
        return num_convention
    # not at import: `bilan run`'s "nothing changed" check never needs the parsers
    from dagster_project.parsing.normalize import convention_in_name
    from dagster_project.parsing.workbook import refused_unopened

    if not refused_unopened(refusal):
        return None

    hint = convention_in_name(file_name)
    return hint[0] if hint and hint[1] == exercice else None


def newest_per_convention(workbooks: Iterable[tuple[str, int, str | None]]) -> dict[str, str]:
    """The workbook that counts for each convention: the most recently modified (then the
    greatest name, for an exact tie), as the reporting kit says; ``workbooks`` are
    (source_file, mtime_ns, num_convention) with None for a workbook whose convention was not
    read (it counts for none). Returns num_convention → source_file."""
    newest: dict[str, tuple[int, str]] = {}
    for source_file, mtime_ns, conv in workbooks:
        if conv and (conv not in newest or (mtime_ns, source_file) > newest[conv]):
            newest[conv] = (mtime_ns, source_file)
    return {conv: sf for conv, (_, sf) in newest.items()}


def contested_winners(workbooks: Iterable[tuple[str, int, str | None]]) -> dict[str, str]:
    """:func:`newest_per_convention` for the conventions that have several workbooks only: the
    ones where mtimes, not bytes, decide what is published."""
    workbooks = list(workbooks)
    counts = Counter(conv for _, _, conv in workbooks if conv)
    return {c: sf for c, sf in newest_per_convention(workbooks).items() if counts[c] > 1}


def exports_precedence(exports: Iterable[tuple[str, int]]) -> list[str]:
    """The finance exports of one exercise in the order they count a mandate number found in
    several: the most recently modified first (the kit's rule for two workbooks of one
    convention, so that a corrected export counts whatever its name), then the greatest name, as
    for workbooks. ``exports`` are (source_file, mtime_ns)."""
    return [sf for _, sf in sorted(((m, sf) for sf, m in exports), reverse=True)]


def is_export(source_file: str) -> bool:
    """Whether a recorded ``source_file`` (``<exercice>/finances/<name>``) is a finance export
    (as :func:`discover_files` classifies it)."""
    parts = source_file.split("/")
    return len(parts) == 3 and _classify(parts[1], parts[2])[0] == KIND_FINANCES


def inputs_digest(
    hashes: Mapping[str, str],
    workbooks: Iterable[tuple[str, int, str | None]],
    exports: Iterable[tuple[str, int]] = (),
) -> str:
    """The loader's ``input_sha256`` of one exercise: every file's name and sha256, for each
    convention with several workbooks the one that counts and, with several finance exports,
    their order (:func:`exports_precedence`). Both depend on the files' mtimes, not their
    bytes: touching an older workbook of a convention makes it the one published, touching an
    older export makes its amount count for a mandate number it shares with another, and
    neither must look like "nothing changed" (:mod:`dagster_project.state`). ``workbooks`` as
    for :func:`newest_per_convention`, ``exports`` as for :func:`exports_precedence`."""
    order = exports_precedence(exports)
    return digest_lines(
        [
            *(f"{sf}:{sha}" for sf, sha in hashes.items()),
            *(f"gagnant:{c}:{sf}" for c, sf in contested_winners(workbooks).items()),
            *([f"ordre_exports:{'>'.join(order)}"] if len(order) > 1 else []),
        ]
    )
