"""Back-translation: source language → pivot → source language, through the translation cache."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from tasks.text.cache import TranslationCache
from tasks.text.paraphrase import Producer
from tasks.text.translators import Decoding, Runtime, Translator, load_marian


def model_name(template: str, /, *, src: str, tgt: str) -> str:
    """The model of one direction, from the config's template."""
    return template.format(src=src, tgt=tgt)


def directions(source_language: str, pivots: Sequence[str], /) -> list[tuple[str, str]]:
    """Every (src, tgt) pair a run needs: there and back for each pivot."""
    pairs = []
    for pivot in pivots:
        pairs += [(source_language, pivot), (pivot, source_language)]
    return pairs


def load_translators(
    template: str,
    source_language: str,
    pivots: Sequence[str],
    /,
    *,
    revision: str | None,
    local_files_only: bool,
    decoding: Decoding,
    runtime: Runtime,
) -> dict[tuple[str, str], Translator]:
    """Load every direction's model up front, so a missing one fails before any work.

    Raises:
        ModelUnavailable: naming the first model that cannot be loaded and how to provide it.
    """
    return {
        (src, tgt): load_marian(
            model_name(template, src=src, tgt=tgt),
            revision=revision,
            local_files_only=local_files_only,
            decoding=decoding,
            runtime=runtime,
        )
        for src, tgt in directions(source_language, pivots)
    }


def variants(pivots: Sequence[str], /, *, samples_per_pivot: int, do_sample: bool) -> list:
    """Rounds of (pivot, sample index): all pivots first, then more sampled decodes."""
    samples = samples_per_pivot if do_sample else 1
    return [(pivot, sample) for sample in range(samples) for pivot in pivots]


def back_translator(
    translators: Mapping[tuple[str, str], Translator],
    cache: TranslationCache,
    /,
    *,
    source_language: str,
    decoding: Decoding,
    seed: int,
    truncated: Counter,
) -> Producer:
    """A producer for `paraphrase`: each text there and back through the variant's pivot.

    Inputs cut to a model's limit are counted in `truncated` by direction (`en→de`).
    """
    cache_seed = seed if decoding.do_sample else None

    def produce(variant: tuple[str, int], labels: list[object], texts: list[str]) -> list[str]:
        pivot, sample = variant
        outputs = texts
        for src, tgt in ((source_language, pivot), (pivot, source_language)):
            results = cache.translate(
                translators[(src, tgt)],
                outputs,
                decoding=decoding.key(),
                seed=cache_seed,
                sample=sample,
            )
            truncated[f"{src}→{tgt}"] += sum(result.truncated for result in results)
            outputs = [result.text for result in results]
        return outputs

    return produce
