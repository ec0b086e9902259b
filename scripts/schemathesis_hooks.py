"""Schemathesis hooks for smartfolio's API: generators for the string formats whose rules a
JSON Schema pattern cannot state whole. The OpenAPI document names them (`format`) and
describes them; these generators only make values that follow those descriptions.

- `asset`: a symbol the server trades (read from the server's own `GET /api/status`);
- `account`: a venue account the server configures (the default one `GET /api/status` names);
- `targets`: `ASSET=PCT,...` over 2 to 20 such assets, integer weights summing to 100;
- `trigger`: the trigger grammar (threshold, relative threshold, schedules, gated schedules);
- `profile`: a bot profile's TOML (`smartfolio bot export`): version 1, such assets with targets
  or `method = "equal"`, a trigger, and optionally a cooldown, risk settings and the execution.
- a query's time range: `to` not before `from` (a filter).

Loaded by scripts/schemathesis.sh through SCHEMATHESIS_HOOKS; SMARTFOLIO_URL is the server.
"""

import json
import os
import urllib.request

import schemathesis
from hypothesis import strategies as st

_BASE = os.environ["SMARTFOLIO_URL"].rstrip("/")
with urllib.request.urlopen(_BASE + "/api/status", timeout=30) as _r:
    _STATUS = json.load(_r)
ASSETS = list(_STATUS["assets"])
if len(ASSETS) < 2:
    raise RuntimeError(f"{_BASE}/api/status lists fewer than 2 assets: no targets can be made")

asset = st.sampled_from(ASSETS)
account = st.just(_STATUS["account"])


@st.composite
def targets(draw):
    chosen = draw(st.lists(asset, min_size=2, max_size=min(len(ASSETS), 20), unique=True))
    cuts = sorted(
        draw(st.lists(st.integers(1, 99), min_size=len(chosen) - 1, max_size=len(chosen) - 1, unique=True))
    )
    weights = [b - a for a, b in zip([0] + cuts, cuts + [100])]
    return ",".join(f"{a}={w}" for a, w in zip(chosen, weights))


_schedule = st.one_of(
    st.integers(1, 500).map(lambda k: f"every:{k}"),
    st.sampled_from(["every:30m", "every:4h", "every:1d", "every:1w", "every:28d"]),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"daily@{t[0]:02}:{t[1]:02}"),
    st.sampled_from(["weekly@mon/08:00", "weekly@sun/23:59"]),
    st.sampled_from(["cron:0 */4 * * *", "cron:30 8 * * 1-5"]),
)
_pp = st.integers(1, 100).map(str) | st.sampled_from(["0.5", "2.25", "99.9"])
trigger = st.one_of(
    _pp.map(lambda p: f"threshold:{p}"),
    st.integers(1, 500).map(lambda p: f"rel-threshold:{p}"),
    _schedule,
    st.tuples(_schedule, _pp).map(lambda t: f"{t[0]}+threshold:{t[1]}"),
    st.tuples(_pp, _schedule).map(lambda t: f"threshold:{t[0]}|{t[1]}"),
)


@st.composite
def profile(draw):
    basket = draw(targets())
    assets = [pair.split("=")[0] for pair in basket.split(",")]
    lines = ["version = 1", "assets = [" + ", ".join(f'"{a}"' for a in assets) + "]"]
    if draw(st.booleans()):
        lines.append('method = "equal"')
    else:
        lines.append("targets = { " + ", ".join(f'{a} = "{w}"' for a, w in (p.split("=") for p in basket.split(","))) + " }")
    lines.append(f'trigger = "{draw(trigger)}"')
    if draw(st.booleans()):
        lines.append(f"cooldown_ms = {draw(st.integers(0, 31_622_400_000))}")
    risk = []
    if draw(st.booleans()):
        risk.append(f'stop_loss_pct = "{draw(st.integers(1, 99))}"')
    if draw(st.booleans()):
        risk.append(f'take_profit_pct = "{draw(st.integers(1, 500))}"')
    if risk:
        lines += ["", "[risk]"] + risk
    if draw(st.booleans()):
        lines += ["", "[execution]", 'orders = "market"', f'price_margin = "{draw(st.sampled_from(["0", "0.002", "0.05"]))}"']
    return "\n".join(lines) + "\n"


schemathesis.openapi.format("asset", asset)
schemathesis.openapi.format("account", account)
schemathesis.openapi.format("targets", targets())
schemathesis.openapi.format("trigger", trigger)
schemathesis.openapi.format("profile", profile())


def _range_ok(query):
    """A time range (`from`, `to`) ends at or after it starts, as the document describes `to`;
    the server refuses one that ends before (422, naming `to`)."""
    if not isinstance(query, dict):
        return True
    start, end = _number(query.get("from")), _number(query.get("to"))
    if start is not None and end is not None:
        return end >= start
    return True


@schemathesis.hook
def filter_query(ctx, query):
    """The generated phases' queries (fuzzing, stateful)."""
    return _range_ok(query)


@schemathesis.hook
def filter_case(ctx, case):
    """The coverage phase's cases, which `filter_query` does not see."""
    return _range_ok(case.query)


def _number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None
