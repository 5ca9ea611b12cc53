"""The quality gate, targets, the round-robin loop and EDA (no models)."""

import pytest

from tasks.text.eda import eda_paraphrase, eda_rng, words_of
from tasks.text.paraphrase import Gate, Source, paraphrase
from validations.text import normalise_text

GATE = Gate(min_length_ratio=0.5, max_length_ratio=2.0)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("Please refund  my ORDER\n", "identical_to_source"),
        ("   \n ", "empty"),
        ("an existing text", "duplicate"),
        ("refund", "length_ratio"),
        ("please please refund my whole order now, I have waited weeks already", "length_ratio"),
        ("could you refund my order", None),
    ],
)
def test_the_gate_drops_identical_empty_duplicate_and_off_length_outputs(output, reason):
    existing = {normalise_text("An existing  TEXT")}

    assert GATE.reason("please refund my order", output, existing) == reason


def test_sources_are_used_round_robin_one_variant_per_round():
    sources = {"b": [Source(1, "one"), Source(2, "two"), Source(3, "three")]}
    seen = []

    def produce(variant, labels, texts):
        seen.append((variant, list(texts)))
        return [f"{text} via {variant}" for text in texts]

    accepted, stats = paraphrase(
        sources,
        {"b": 5},
        variants=["de", "fr", "es"],
        produce=produce,
        gate=Gate(0, 10),
        existing=set(),
    )

    assert seen == [("de", ["one", "two", "three"]), ("fr", ["one", "two"])]
    assert [c.text for c in accepted] == [
        "one via de",
        "two via de",
        "three via de",
        "one via fr",
        "two via fr",
    ]
    assert stats["b"].as_dict()["acceptance_rate"] == 1.0


def test_rejected_candidates_are_retried_in_the_next_round_and_counted():
    sources = {"b": [Source(1, "same"), Source(2, "other text")]}

    def produce(variant, labels, texts):
        return [text if variant == 0 else f"{text} {variant}" for text in texts]

    accepted, stats = paraphrase(
        sources, {"b": 2}, variants=[0, 1], produce=produce, gate=Gate(0, 10), existing=set()
    )

    assert [c.text for c in accepted] == ["same 1", "other text 1"]
    assert stats["b"].as_dict() == {
        "needed": 2,
        "attempted": 4,
        "accepted": 2,
        "acceptance_rate": 0.5,
        "rejected": {"identical_to_source": 2},
    }


def test_eda_keeps_words_whole_and_is_seeded():
    text = "مرحبا 👩🏽‍💻 please\nrefund my é order now"
    vocabulary = ["refund", "parcel", "🙏"]

    outputs = [
        eda_paraphrase(text, vocabulary=vocabulary, alpha=0.3, rng=eda_rng(7, index, text))
        for index in range(30)
    ]
    again = eda_paraphrase(text, vocabulary=vocabulary, alpha=0.3, rng=eda_rng(7, 0, text))

    allowed = set(words_of(text)) | set(vocabulary)
    for output in outputs:
        assert set(words_of(output)) <= allowed
    # Two swaps can cancel out; the quality gate drops such outputs.
    assert sum(output == text for output in outputs) <= 3
    assert again == outputs[0]
    assert len(set(outputs)) > 10
    # Swaps and insertions keep the line break between the original words.
    assert any("\n" in output for output in outputs)


def test_a_paraphrase_equal_to_a_text_of_another_class_is_rejected_and_replaced():
    sources = {"b": [Source(1, "one"), Source(2, "two")]}

    def produce(variant, labels, texts):
        return [f"{text} {variant}" for text in texts]

    # "one 0" is a "c" in val (written otherwise); "two 0" is a "b" in test: its own class.
    originals = {normalise_text("ONE  0"): frozenset({"c"}), "two 0": frozenset({"b"})}
    accepted, stats = paraphrase(
        sources,
        {"b": 2},
        variants=[0, 1],
        produce=produce,
        gate=Gate(0, 10),
        existing=set(),
        originals=originals,
    )

    assert [c.text for c in accepted] == ["two 0", "one 1"]
    assert stats["b"].rejected == {"identical_to_other_class": 1}
