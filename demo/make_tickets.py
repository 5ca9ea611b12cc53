"""Generate demo/tickets.jsonl: support tickets with `refund` and `security` minorities.

Templated ticket texts with the flaws real exports have: multi-line messages, stray spaces in
labels, repeated tickets, emoji and a few right-to-left (Arabic) lines. Seeded, so the
committed file can be regenerated exactly: `python demo/make_tickets.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROWS = 400
SEED = 11
CLASSES = {"shipping": 0.62, "billing": 0.25, "refund": 0.09, "security": 0.04}
SUBJECTS = {
    "shipping": [
        "my order {n} has not arrived yet",
        "the parcel {n} is stuck in transit since last week",
        "tracking for order {n} shows no update",
        "the courier left package {n} at the wrong address",
        "when will order {n} be delivered?",
    ],
    "billing": [
        "invoice {n} shows the wrong VAT number",
        "I was charged in dollars instead of euros for order {n}",
        "please send a corrected invoice for order {n}",
        "my card was declined for order {n} but the bank says it is fine",
    ],
    "refund": [
        "I returned order {n} two weeks ago and still have no refund",
        "please refund the double payment for order {n}",
        "the refund for order {n} was only partial",
    ],
    "security": [
        "someone changed the email on my account without asking me",
        "I got a password reset mail I did not request",
    ],
}
ADDITIONS = [
    "Thanks in advance.",
    "This is the second time I write about this.",
    "Kind regards,\nSam",
    "Please help 🙏",
    "شكرا لكم",
    "Best,\nA. Müller",
]


def make_tickets(rows: int = ROWS, seed: int = SEED) -> list[dict[str, object]]:
    """The demo tickets, in file order."""
    rng = np.random.default_rng(seed)
    names = list(CLASSES)
    labels = rng.choice(names, rows, p=list(CLASSES.values()))
    tickets = []
    for index, label in enumerate(labels):
        subject = SUBJECTS[label][int(rng.integers(len(SUBJECTS[label])))]
        text = subject.format(n=int(rng.integers(10_000, 99_999)))
        if rng.random() < 0.5:
            separator = "\n" if rng.random() < 0.5 else " "
            text += separator + ADDITIONS[int(rng.integers(len(ADDITIONS)))]
        if rng.random() < 0.1:
            text = text.capitalize()
        spaced = f" {label}" if rng.random() < 0.05 else str(label)
        tickets.append({"ticket_id": f"T{10_000 + index}", "text": text, "category": spaced})
    # Repeated submissions: the same ticket sent twice (kept in one split by the pipeline).
    for index in rng.choice(rows, 6, replace=False):
        repeat = dict(tickets[int(index)])
        repeat["ticket_id"] = f"T{10_000 + len(tickets)}"
        repeat["text"] = "  " + str(repeat["text"]).upper() + " "
        tickets.append(repeat)
    return tickets


def main() -> None:
    path = Path(__file__).with_name("tickets.jsonl")
    lines = [json.dumps(ticket, ensure_ascii=False) for ticket in make_tickets()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(path)


if __name__ == "__main__":
    main()
