"""result.py - a verified release as a pandas DataFrame.

Cells are labelled as query/query_client.c's query_cell_label() labels
them, in the order the nodes compute them: presence region then bucket
(a day "YYYY-MM-DD" or an hour "YYYY-MM-DDTHH"), residents region, od day
then origin then destination, migration from then to, visitors region
then day, population by category region then category.  Each region
column gets a "<column>_name" column from the geography's regions file.
The 95% half-width is the exact one of the discrete Gaussian with the
logged variance (privacy/interval.c's dp_ci95_halfwidth: the smallest w
with P(|Z| > w) <= 0.05), computed again here.
"""

import datetime
import math

import numpy as np
import pandas as pd

from .errors import CairnError

CI_VARIANCE_MAX = 1 << 50


def rho_text(nano):
    """nano-rho as the shortest decimal text ("0.1", "1")."""
    s = f"{nano // 10**9}.{nano % 10**9:09d}".rstrip("0").rstrip(".")
    return s


def ci95_halfwidth(variance):
    """The smallest w with sum_{|y|<=w} exp(-y^2/2v) >= 0.95 Z."""
    v = int(variance)
    if v <= 0 or v > CI_VARIANCE_MAX:
        raise CairnError(f"interval: variance {v} is not in [1, 2^50]")
    if v >= 16:
        z = math.sqrt(2 * math.pi * v)
    else:
        x = np.arange(1, int(math.sqrt(400 * v)) + 2, dtype=np.float64)
        z = 1 + 2 * np.exp(-x * x / (2.0 * v)).sum()
    target, c, start = 0.95 * z, 1.0, 1
    step = 1 << 20
    while True:
        y = np.arange(start, start + step, dtype=np.float64)
        cs = c + 2 * np.cumsum(np.exp(-y * y / (2.0 * v)))
        hit = np.nonzero(cs >= target)[0]
        if hit.size:
            return int(start + hit[0])
        c = float(cs[-1])
        start += step


def _days(spec):
    d0 = datetime.date.fromisoformat(spec.start)
    d1 = datetime.date.fromisoformat(spec.end)
    return d0, (d1 - d0).days


def _dates(d0, offsets):
    return np.array([(d0 + datetime.timedelta(days=int(o))).isoformat()
                     for o in offsets], dtype=object)


def labels(spec, regions, n, categories=None):
    """{column: array} labelling the 'n' cells of 'spec' over 'regions'
    ({id: name}, ascending); the region columns hold ids."""
    ids = np.array(list(regions), dtype=np.int64)
    R = len(ids)
    i = np.arange(n, dtype=np.int64)
    kind = spec.kind

    def need(cells):
        if n != cells:
            raise CairnError(f"the result has {n} cells, the domain of this "
                             f"query {cells} (check the regions file)")

    if kind == "presence":
        d0, days = _days(spec)
        nb = days * 24 if spec.bucket == "hour" else days
        need(R * nb)
        b = i % nb
        if spec.bucket == "hour":
            day = _dates(d0, range(days))
            bucket = np.array([f"{day[x // 24]}T{x % 24:02d}" for x in b],
                              dtype=object)
        else:
            bucket = _dates(d0, range(days))[b] if n else b
        return {"region": ids[i // nb] if n else i, "bucket": bucket}
    if kind == "residents":
        need(R)
        return {"region": ids}
    if kind == "od":
        d0, _ = _days(spec)
        if n % (R * R):
            raise CairnError(f"the result has {n} cells, not a multiple of "
                             f"{R * R} (check the regions file)")
        return {"day": _dates(d0, range(n // (R * R)))[i // (R * R)],
                "origin": ids[i // R % R], "destination": ids[i % R]}
    if kind == "migration":
        need(R * R)
        return {"from": ids[i // R], "to": ids[i % R]}
    if kind == "visitors":
        d0, nd = _days(spec)
        need(R * nd)
        return {"region": ids[i // nd], "day": _dates(d0, range(nd))[i % nd]}
    if kind == "population_by_category":
        cats = list(spec.categories) or list(categories or [])
        if not cats:
            raise CairnError("population_by_category needs its categories")
        need(R * len(cats))
        return {"region": ids[i // len(cats)],
                "category": np.array(cats, dtype=object)[i % len(cats)]}
    raise CairnError(f"unknown kind '{kind}'")


def frame(proven, regions, values, categories=None, delta=1e-6):
    """The DataFrame of a proven release (see Client.result)."""
    q = proven.query
    cols = labels(q.spec, regions, len(values), categories)
    names = regions
    df = pd.DataFrame()
    for k, v in cols.items():
        df[k] = v
        if k in ("region", "origin", "destination", "from", "to"):
            df[k + "_name"] = [names[int(x)] for x in v]
    w = ci95_halfwidth(proven.variance)
    val = np.array(values, dtype=np.int64)
    df["value"] = val
    df["ci95_low"] = val - w
    df["ci95_high"] = val + w
    rho = proven.rho_nano / 1e9
    df.attrs.update(query_id=proven.query_id, kind=q.spec.kind,
                    rho=rho_text(proven.rho_nano), rho_nano=proven.rho_nano,
                    variance=proven.variance, ci95_halfwidth=w,
                    log_index=proven.log_index, delta=delta,
                    epsilon_simple=rho + 2 * math.sqrt(
                        rho * math.log(1 / delta)),
                    participants=list(proven.participants),
                    checkpoint_size=proven.size,
                    cosignatures=proven.cosignatures)
    return df
