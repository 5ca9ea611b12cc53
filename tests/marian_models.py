"""Tiny MarianMT models built locally for tests: random weights, a sentencepiece vocabulary.

Each model is saved with `save_pretrained` into `<folder>/opus-mt-{src}-{tgt}`, so the product
loads it through its real `from_pretrained` path with `rebalance.model` pointing at
`<folder>/opus-mt-{src}-{tgt}`. Nothing is downloaded.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CORPUS = [
    "my order has not arrived yet and the tracking page shows nothing",
    "the app crashes every time I log in on my phone",
    "please refund the payment you charged twice",
    "I cannot reset my password, the email never comes",
    "the invoice shows the wrong address",
    "Ich habe eine Frage zu meiner Rechnung",
    "Das Paket ist beschädigt angekommen",
    "La commande est arrivée en retard",
    "مرحبا، لم يصل طلبي بعد",
    "great service 👍 thanks a lot 🎉",
    "where is my parcel? it was due on monday",
    "cancel my subscription please",
]
MAX_POSITIONS = 64


@dataclass(frozen=True)
class MarianSize:
    """The shape of a MarianMT model, in MarianConfig's names, and of its vocabulary.

    `vocab_size` may exceed the sentencepiece pieces: real opus-mt models do the same (their
    vocab.json joins the source and target pieces, 58,101 entries for opus-mt-en-de, more than
    either .spm holds); the extra entries are filler pieces the tokenizer never produces.
    """

    d_model: int
    layers: int
    attention_heads: int
    ffn_dim: int
    max_position_embeddings: int
    pieces: int
    vocab_size: int | None = None
    scale_embedding: bool = False
    init_std: float = 0.02


TINY = MarianSize(
    d_model=16, layers=1, attention_heads=2, ffn_dim=32, max_position_embeddings=MAX_POSITIONS,
    pieces=150,
)  # fmt: skip
# Helsinki-NLP/opus-mt-en-de's shape (config.json): 74M parameters. A wider init than
# transformers' 0.02 makes the random model's greedy output depend on its input instead of
# repeating one token for every input, so comparisons of outputs mean something.
OPUS_MT = MarianSize(
    d_model=512, layers=6, attention_heads=8, ffn_dim=2048, max_position_embeddings=512,
    pieces=8000, vocab_size=58101, scale_embedding=True, init_std=0.1,
)  # fmt: skip


def build_marian(
    folder: Path,
    /,
    *,
    corpus: Iterable[str] = CORPUS,
    seed: int = 0,
    size: MarianSize = TINY,
) -> Path:
    """Save a random-weight MarianMT model and its tokenizer into `folder`; returns it."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    sentences = list(corpus) * 4
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=size.pieces,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        unk_id=0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=buffer.getvalue())
    vocab = {"</s>": 0, "<unk>": 1}
    for index in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(index), len(vocab))
    filler = 0
    while size.vocab_size is not None and len(vocab) < size.vocab_size - 1:
        vocab.setdefault(f"▁filler{filler}", len(vocab))
        filler += 1
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*sacremoses.*")
        tokenizer = MarianTokenizer(
            source_spm=str(folder / "source.spm"),
            target_spm=str(folder / "target.spm"),
            vocab=str(folder / "vocab.json"),
            model_max_length=size.max_position_embeddings,
        )
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=size.d_model,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.attention_heads,
        decoder_attention_heads=size.attention_heads,
        encoder_ffn_dim=size.ffn_dim,
        decoder_ffn_dim=size.ffn_dim,
        max_position_embeddings=size.max_position_embeddings,
        scale_embedding=size.scale_embedding,
        init_std=size.init_std,
        pad_token_id=vocab["<pad>"],
        eos_token_id=0,
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=0,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MarianMTModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_models(root: Path, /, *, source: str = "en", pivots: Iterable[str] = ("de",)) -> str:
    """Both directions for each pivot under `root`; returns the `rebalance.model` template."""
    for index, pivot in enumerate(pivots):
        build_marian(root / f"opus-mt-{source}-{pivot}", seed=2 * index)
        build_marian(root / f"opus-mt-{pivot}-{source}", seed=2 * index + 1)
    return str(root / "opus-mt-{src}-{tgt}")
