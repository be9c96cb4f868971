"""Reading Prometheus text back in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """(family names, {(sample name, labels): value}) from a scrape."""
    families = list(text_string_to_metric_families(text))
    return {family.name for family in families}, {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly ``labels``, or None when it is absent."""
    return samples.get((name, frozenset(labels.items())))
