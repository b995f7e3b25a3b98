"""What the core counts for a deployment's monitoring: knowledge-base decisions, messages sent,
SLA warnings and breaches. Like `logging`, the core only reports events; whoever runs it may
attach a sink (`bot.monitoring` turns them into Prometheus metrics). Without one, nothing is
kept."""

from __future__ import annotations

from collections.abc import Callable

Sink = Callable[[str, dict[str, str]], None]

_sinks: list[Sink] = []


def count(name: str, /, **labels: str) -> None:
    """One occurrence of the event `name` (e.g. "kb_decision", decision="answer")."""
    for sink in _sinks:
        sink(name, labels)


def attach(sink: Sink) -> Callable[[], None]:
    """Send every event to `sink` from now on; returns the call that detaches it."""
    _sinks.append(sink)
    return lambda: _sinks.remove(sink)
