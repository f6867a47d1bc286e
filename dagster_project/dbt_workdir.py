"""The pipeline's dbt runs in the warehouse folder, so one parse cache serves every warehouse.

dbt reuses its parse cache (``partial_parse.msgpack``, :mod:`dagster_project.dbt_manifest`) only
for the profile that wrote it, and a profile includes its database path. With ``path:
<warehouse>/bilan.duckdb`` a build in any warehouse but the last one parsed the whole project
again ("profile has changed"; from dbt's start to the end of its parse, 5-6 s of a 20 s
``dbt build`` of the 2017 drop on 2 cores, against 1.6-1.9 s from the cache), for every test's and
every bench round's warehouse, and for a data engineer who loads a second drop elsewhere. So the
dbt asset asks ``bilan-dbt`` to run in the warehouse folder (:data:`WORKDIR_ENV`), where the
profile's path is the relative :data:`DATABASE` (profiles.yml reads it from :data:`DATABASE_ENV`):
one profile, hence one cache, whatever the warehouse. DuckDB opens ``bilan.duckdb`` in the
working directory, the same file as before (its spill folder ``bilan.duckdb.tmp`` beside it, as
before); dbt's database name is the path's stem, ``bilan``, as before. The manifest's parse at
import renders the same profile (:mod:`dagster_project.dbt_manifest`), so a fresh clone's first
build starts from its cache too.

dbt typed by hand (``dbt build`` in ``dbt/``, ``bilan-dbt`` without :data:`WORKDIR_ENV`) is not
moved and keeps ``$BILAN_WAREHOUSE_DIR/bilan.duckdb`` (default ``../data/warehouse``, from
``dbt/``): another profile, so its parse cache, which it writes in the same ``dbt/target/``, makes
the pipeline's next build parse in full once (and the reverse).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

# the folder bilan-dbt runs dbt in (the warehouse's), set by the dbt asset for its build only
WORKDIR_ENV = "BILAN_DBT_WORKDIR"
# the database path profiles.yml uses instead of $BILAN_WAREHOUSE_DIR/bilan.duckdb
DATABASE_ENV = "BILAN_DBT_DATABASE"
DATABASE = "bilan.duckdb"

# dbt's paths that dagster-dbt passes relative to the project (the working directory it starts
# dbt in): they must keep naming the same folders once dbt runs elsewhere
_PROJECT_RELATIVE = ("DBT_TARGET_PATH", "DBT_LOG_PATH")


def enter(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Move to the folder named by :data:`WORKDIR_ENV`, if any, for a dbt launched by the dbt
    asset: dbt then opens the relative :data:`DATABASE` there. The project, profiles, target and
    log folders, which dagster-dbt gives in the environment relative to where it started dbt (its
    project folder), are made absolute first. Returns the folder, or None (not asked, or no such
    folder: nothing changes, and an inherited :data:`DATABASE_ENV` is dropped, as the relative
    path means the warehouse folder only). dagster-dbt passes no path on the command line, nor
    any of dbt's other folders (``DBT_STATE``, ``DBT_DEFER_STATE``…): those would be read from
    the warehouse folder."""
    workdir = environ.get(WORKDIR_ENV)
    if not workdir or not Path(workdir).is_dir():
        # (no warehouse yet: dbt says so as it always did, opening the absolute path)
        environ.pop(DATABASE_ENV, None)
        return None
    here = Path.cwd()
    project = here / environ.get("DBT_PROJECT_DIR", ".")
    environ["DBT_PROJECT_DIR"] = str(project)
    # dbt's default profiles folder is the working directory when it holds a profiles.yml
    if "DBT_PROFILES_DIR" in environ:
        environ["DBT_PROFILES_DIR"] = str(here / environ["DBT_PROFILES_DIR"])
    elif (here / "profiles.yml").is_file():
        environ["DBT_PROFILES_DIR"] = str(here)
    for var in _PROJECT_RELATIVE:
        if var in environ:
            environ[var] = str(project / environ[var])  # an absolute path stays as it is
    environ[DATABASE_ENV] = DATABASE
    os.chdir(workdir)
    return Path(workdir)


@contextlib.contextmanager
def temporary_env(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in this process's environment (what dbt reads, or a dbt subprocess inherits),
    then the environment as before."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
