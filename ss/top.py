"""``python -m ss top``: a live view of a running server, read from its ``/_ss/metrics`` each second.

Connections by transport, calls per second by action with p50/p99 and errors,
pub/sub rates, the store's round trips, slow readers and rate limits. Rates and
percentiles are over the last interval (the difference of two scrapes), so the
view shows what happens now, not since the start. Under ``--workers`` one scrape
covers every worker. ``--once`` prints a single view (two scrapes, one interval
apart) and exits: for scripts and for the tests.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from .errors import SSError

__all__ = ["scrape", "parse", "View", "diff", "render", "quantile", "run", "TopError"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class TopError(SSError):
    """The metrics cannot be read; the message says why and what to do."""


def parse(text: str) -> Samples:
    """{(sample name, sorted label pairs): value} of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(url: str, timeout: float = 3) -> Samples:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse(response.read().decode())
    except urllib.error.HTTPError as exc:
        if exc.code == 403:
            raise TopError(f"{url} refused this address (403): run top on a host in metrics.allow, "
                           "or add this one to it") from None
        if exc.code == 404:
            raise TopError(f"{url} answered 404: metrics are off (set metrics.enabled in config/app.py; "
                           "production turns them off), or they are on metrics.port") from None
        raise TopError(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TopError(f"cannot reach {url} ({reason}): is the server running (python -m ss start)? "
                       "Give its address with --url") from None


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    """{label value: value} of the samples called ``name`` (summed over other labels)."""
    out: dict[str, float] = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            key = dict(labels).get(label, "")
            out[key] = out.get(key, 0.0) + value
    return out


def _buckets(samples: Samples, name: str, label: str) -> dict[str, list[tuple[float, float]]]:
    """{label value: [(upper bound, cumulative count)...]} of a histogram's buckets."""
    out: dict[str, dict[float, float]] = {}
    for (sample, labels), value in samples.items():
        if sample == name + "_bucket":
            pairs = dict(labels)
            bound = float(pairs["le"])
            key = pairs.get(label, "")
            out.setdefault(key, {})
            out[key][bound] = out[key].get(bound, 0.0) + value
    return {key: sorted(bounds.items()) for key, bounds in out.items()}


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of cumulative histogram ``buckets`` (as Prometheus' histogram_quantile does)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass
class ActionRow:
    action: str
    rate: float
    errors: float
    p50: float | None
    p99: float | None


@dataclass
class View:
    seconds: float
    connections: dict[str, float] = field(default_factory=dict)
    opened_rate: float = 0.0
    closed: dict[str, float] = field(default_factory=dict)
    actions: list[ActionRow] = field(default_factory=list)
    calls_rate: float = 0.0
    errors_rate: float = 0.0
    codes: dict[str, float] = field(default_factory=dict)
    published: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)
    store_rate: float = 0.0
    store_p99: float | None = None
    store_errors: float = 0.0
    slow_readers: float = 0.0
    rate_limited: float = 0.0
    queued_bytes: float = 0.0
    api: dict[str, float] = field(default_factory=dict)


def _delta(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    # A restarted worker's counters start again: never show a negative rate.
    return {key: max(0.0, value - before.get(key, 0.0)) for key, value in now.items()}


def _bucket_delta(now: list[tuple[float, float]], before: list[tuple[float, float]]) -> list[tuple[float, float]]:
    old = dict(before)
    return [(bound, max(0.0, count - old.get(bound, 0.0))) for bound, count in now]


def diff(before: Samples, now: Samples, seconds: float) -> View:
    """What happened between two scrapes ``seconds`` apart."""
    seconds = max(seconds, 1e-9)
    view = View(seconds)
    view.connections = _by(now, "ss_connections_open", "transport")
    view.opened_rate = sum(_delta(_by(now, "ss_connections_opened_total", "transport"),
                                  _by(before, "ss_connections_opened_total", "transport")).values()) / seconds
    view.closed = {k: v / seconds for k, v in _delta(_by(now, "ss_connections_closed_total", "reason"),
                                                      _by(before, "ss_connections_closed_total", "reason")).items() if v}

    def calls(samples: Samples) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for (sample, labels), value in samples.items():
            if sample == "ss_calls_total":
                pairs = dict(labels)
                out[(pairs.get("action", ""), pairs.get("code", ""))] = value
        return out

    call_now, call_before = calls(now), calls(before)
    per_action: dict[str, list[float]] = {}
    for key, value in call_now.items():
        done = max(0.0, value - call_before.get(key, 0.0))
        row = per_action.setdefault(key[0], [0.0, 0.0])
        row[0] += done
        if key[1] != "ok":
            row[1] += done
            view.codes[key[1]] = view.codes.get(key[1], 0.0) + done / seconds
    hist_now = _buckets(now, "ss_call_duration_seconds", "action")
    hist_before = _buckets(before, "ss_call_duration_seconds", "action")
    for action, (done, failed) in per_action.items():
        recent = _bucket_delta(hist_now.get(action, []), hist_before.get(action, []))
        view.actions.append(ActionRow(action, done / seconds, failed / seconds, quantile(0.5, recent),
                                      quantile(0.99, recent)))
    view.actions.sort(key=lambda row: (-row.rate, row.action))
    view.calls_rate = sum(row.rate for row in view.actions)
    view.errors_rate = sum(row.errors for row in view.actions)
    view.published = {k: v / seconds for k, v in _delta(_by(now, "ss_pubsub_published_total", "kind"),
                                                         _by(before, "ss_pubsub_published_total", "kind")).items()}
    view.delivered = {k: v / seconds for k, v in _delta(_by(now, "ss_pubsub_delivered_total", "kind"),
                                                         _by(before, "ss_pubsub_delivered_total", "kind")).items()}
    store_now = _buckets(now, "ss_store_command_duration_seconds", "command")
    store_before = _buckets(before, "ss_store_command_duration_seconds", "command")
    merged: dict[float, float] = {}
    for command, buckets in store_now.items():
        for bound, count in _bucket_delta(buckets, store_before.get(command, [])):
            merged[bound] = merged.get(bound, 0.0) + count
    merged_list = sorted(merged.items())
    view.store_rate = (merged_list[-1][1] / seconds) if merged_list else 0.0
    view.store_p99 = quantile(0.99, merged_list)
    view.store_errors = sum(_delta(_by(now, "ss_store_errors_total", "kind"),
                                   _by(before, "ss_store_errors_total", "kind")).values()) / seconds
    view.slow_readers = sum(_delta(_by(now, "ss_slow_reader_disconnects_total", ""),
                                   _by(before, "ss_slow_reader_disconnects_total", "")).values())
    view.rate_limited = sum(_delta(_by(now, "ss_rate_limited_total", "door"),
                                   _by(before, "ss_rate_limited_total", "door")).values()) / seconds
    view.queued_bytes = sum(_by(now, "ss_outgoing_queued_bytes", "").values())
    view.api = {k: v / seconds for k, v in _delta(_by(now, "ss_api_requests_total", "status"),
                                                   _by(before, "ss_api_requests_total", "status")).items() if v}
    return view


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f}ms" if seconds < 10 else f">{seconds:.0f}s"


def _rates(values: dict[str, float]) -> str:
    shown = [f"{key} {value:.1f}/s" for key, value in sorted(values.items()) if value]
    return ", ".join(shown) if shown else "-"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def render(view: View, url: str, width: int = 100, max_actions: int = 20, color: bool = False) -> str:
    """The screen: a header, then calls by action (busiest first)."""
    bold, dim, red, reset = ("\033[1m", "\033[2m", "\033[31m", "\033[0m") if color else ("", "", "", "")
    open_total = sum(view.connections.values())
    by_transport = ", ".join(f"{k} {v:.0f}" for k, v in sorted(view.connections.items()) if v) or "none"
    lines = [
        f"{bold}ss top{reset}  {url}  every {view.seconds:.1f}s  {time.strftime('%H:%M:%S')}",
        f"connections  {open_total:.0f} open ({by_transport}); {view.opened_rate:.1f}/s opening; "
        f"closing {_rates(view.closed)}",
        f"calls        {view.calls_rate:.1f}/s, " + (f"{red}errors {view.errors_rate:.1f}/s{reset}"
                                                     if view.errors_rate else "errors 0/s")
        + (f" ({_rates(view.codes)})" if view.codes else ""),
        f"pub/sub      published {_rates(view.published)}; delivered {_rates(view.delivered)}",
        f"store        {view.store_rate:.1f} round trips/s, p99 {_ms(view.store_p99)}"
        + (f", {red}errors {view.store_errors:.1f}/s{reset}" if view.store_errors else ""),
        f"sockets      {_size(view.queued_bytes)} queued; slow readers cut off {view.slow_readers:.0f}; "
        f"rate limited {view.rate_limited:.1f}/s" + (f"; HTTP API {_rates(view.api)}" if view.api else ""),
        "",
    ]
    name_width = max([len("action")] + [len(row.action) for row in view.actions[:max_actions]])
    name_width = min(name_width, max(10, width - 40))
    lines.append(f"{bold}{'action':<{name_width}}  {'calls/s':>9}  {'errors/s':>8}  {'p50':>9}  {'p99':>9}{reset}")
    if not view.actions:
        lines.append(f"{dim}(no calls yet){reset}")
    for row in view.actions[:max_actions]:
        errors = f"{row.errors:8.1f}"
        if row.errors:
            errors = f"{red}{errors}{reset}"
        quiet = dim if not row.rate else ""
        lines.append(f"{quiet}{row.action[:name_width]:<{name_width}}  {row.rate:9.1f}  {errors}  "
                     f"{_ms(row.p50):>9}  {_ms(row.p99):>9}{reset if quiet else ''}")
    if len(view.actions) > max_actions:
        lines.append(f"{dim}... {len(view.actions) - max_actions} more actions{reset}")
    return "\n".join(line[:width] if not color else line for line in lines)


def run(url: str, interval: float = 1.0, once: bool = False, out=None) -> int:
    """Scrape ``url`` every ``interval`` seconds and redraw until Ctrl-C (``once``: print one view)."""
    out = out or sys.stdout
    color = not once and out.isatty()
    before = scrape(url)
    stamp = time.monotonic()
    try:
        while True:
            time.sleep(interval)
            try:
                now = scrape(url)
            except TopError as exc:
                if once:
                    raise
                out.write(f"\033[2J\033[H{exc}\n(retrying every {interval:g}s; Ctrl-C to stop)\n")
                out.flush()
                continue
            moment = time.monotonic()
            view = diff(before, now, moment - stamp)
            before, stamp = now, moment
            size = shutil.get_terminal_size((100, 30))
            screen = render(view, url, size.columns, max(3, size.lines - 10), color)
            if once:
                out.write(screen + "\n")
                return 0
            out.write("\033[2J\033[H" + screen + "\n")
            out.flush()
    except KeyboardInterrupt:
        return 0
