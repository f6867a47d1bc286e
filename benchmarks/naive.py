"""What a user would write instead: pandas.read_excel file by file, into DuckDB, then SQL.

    python benchmarks/naive.py RAW_DIR DB_PATH

pandas' default engines (openpyxl for .xlsx, odf for .ods), every sheet of every workbook read
whole, the header row found naively (the first row whose first cell says "Identifiant"), the
label/value pairs of the Action sheet read from its two first non-empty columns, everything
concatenated, loaded into DuckDB, and the synthesis by thematic computed in SQL. No tolerance
rules, no rejections, no lineage: the cheapest honest version of the job. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
import warnings
from pathlib import Path

import duckdb
import pandas as pd


def norm(text) -> str:
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return " ".join(s.replace("'", " ").split())


def table_after_header(df: pd.DataFrame) -> pd.DataFrame:
    for i in range(min(10, len(df))):
        if norm(df.iat[i, 0]).startswith("identifiant"):
            out = df.iloc[i + 1 :].copy()
            out.columns = [norm(c) for c in df.iloc[i]]
            return out[out.iloc[:, 0].notna()]
    return df.iloc[0:0]


def main() -> None:
    warnings.simplefilter("ignore")  # pandas' notice about its future default engine, per file
    raw, db = Path(sys.argv[1]), sys.argv[2]
    t0 = time.perf_counter()
    actions, participants, cers = [], [], []
    files = sorted(p for p in raw.glob("*/operateurs/*") if p.suffix.lower() in (".xlsx", ".ods"))
    for path in files:
        sheets = pd.read_excel(path, sheet_name=None, header=None)  # default engines
        conv = None
        for name, df in sheets.items():
            key = norm(name)
            if key.startswith("action"):
                df = df.dropna(how="all", axis=1)
                pairs = {norm(r.iloc[0]): r.iloc[1] for _, r in df.dropna(thresh=2).iterrows()}
                conv = pairs.get("n convention")
                actions.append({"num_convention": conv,
                                "code_thematique": pairs.get("code thematique")})
        for name, df in sheets.items():
            key = norm(name)
            if key.startswith("participant"):
                t = table_after_header(df)
                participants.append(pd.DataFrame({
                    "num_convention": conv, "identifiant": t.iloc[:, 0].astype(str),
                    "date_sortie": t.get("date de sortie"),
                }))
            elif key.startswith("cer"):
                t = table_after_header(df)
                cers.append(pd.DataFrame({"num_convention": conv,
                                          "identifiant": t.iloc[:, 0].astype(str)}))
    t_read = time.perf_counter() - t0
    mandats = pd.concat(
        pd.read_csv(p, sep=";", encoding="cp1252", dtype=str)
        for p in raw.glob("*/finances/*.csv")
    )
    mandats.columns = ["exercice", "num_mandat", "date", "num_convention", "tiers", "siret",
                       "nature", "montant"]
    mandats["montant"] = pd.to_numeric(
        mandats["montant"].str.replace(r"[\s\u202f\u00a0.]", "", regex=True)
        .str.replace(",", "."), errors="coerce")
    con = duckdb.connect(db)
    a = pd.DataFrame(actions)  # noqa: F841
    p = pd.concat(participants) if participants else pd.DataFrame()  # noqa: F841
    c = pd.concat(cers) if cers else pd.DataFrame()  # noqa: F841
    con.execute("CREATE OR REPLACE TABLE actions AS SELECT * FROM a")
    con.execute("CREATE OR REPLACE TABLE participants AS SELECT * FROM p")
    con.execute("CREATE OR REPLACE TABLE cer AS SELECT * FROM c")
    con.execute("CREATE OR REPLACE TABLE mandats AS SELECT * FROM mandats")
    rows = con.execute("""
        WITH pay AS (SELECT num_convention, sum(montant) AS paye FROM mandats GROUP BY 1),
             acc AS (SELECT num_convention, count(*) AS accompagnements,
                            count(date_sortie) AS fins FROM participants GROUP BY 1)
        SELECT a.code_thematique, count(*) AS nb_actions, sum(pay.paye) AS montant_paye,
               sum(acc.accompagnements) AS accompagnements, sum(acc.fins) AS fins
        FROM actions a LEFT JOIN pay USING (num_convention) LEFT JOIN acc USING (num_convention)
        GROUP BY 1 ORDER BY 1
    """).fetchall()
    con.close()
    print(json.dumps({
        "seconds": time.perf_counter() - t0, "read_seconds": t_read, "files": len(files),
        "participants": int(sum(len(x) for x in participants)),
        "cer": int(sum(len(x) for x in cers)), "thematiques": len(rows),
        "nb_actions": int(sum(r[1] for r in rows)),
    }))


if __name__ == "__main__":
    main()
