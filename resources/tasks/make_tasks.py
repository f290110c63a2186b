#!/usr/bin/env python3
"""The demo task suite: a fictional world, its facts, and three tasks over it.

Seeded and deterministic (only random.Random(seed) with randrange/choice/shuffle, whose results
Python keeps stable across versions), so the same seed writes byte-identical files.

  (a) arith   multi-step arithmetic word problems; worked solution ending "#### <number>" (GSM8K)
  (b) facts   four-option questions over the world's facts (MMLU-like); the eval split's answer is
              the letter, the train split's states the fact first ("Purbee lives in Pellin, so the
              answer is B."), which the choice scorer reads the same way
  (c) format  questions about a person answered in the registry-card form "<name> | <field> = <value>"
              (as the corpus's registry listings write facts) instead of the sentence the
              pretraining chats use; the task state tuning is shown on
  (d) arith_short  the guidance task: new arithmetic problems that are in no other file and not in
              the corpus, whose training references hold only the final number ("#### 1381"), as
              answer-only QA data does. Plain tuning can only learn to answer without working;
              guided tuning (cot, kl) can learn from a guide that writes the working. Its eval file
              is arith_eval's items (the gsm8k scorer reads only the final number).

Outputs (JSON Lines, {"question", "answer"} so the tuner and `rwkv-tune eval` read them as is):
  <out>/{arith,facts,format,arith_short}_{train,eval}.jsonl and <out>/facts_eval.csv (MMLU CSV layout)
With --corpus FILE it also writes the pretraining corpus: the world's facts in prose, registry
listings (so the card form exists in the model's experience), chat answers in sentence form,
the train splits of (a) and (b), and filler prose. The eval splits never enter the corpus.

The world has core people (every corpus round writes about them; the format task asks about them)
and village people (only every VILLAGE_EVERY-th round does): half of the facts eval is about each,
so it measures how much of the rarely seen world a model kept, which is where model size shows.
"""
import argparse
import csv
import io
import json
import os
import random

CHOICE_SUFFIX = "Answer with the letter."  # the MMLU prompt rendering `rwkv-tune eval` uses

CITIES = ["Kelmar", "Dovan", "Brisk", "Ostera", "Palmyn", "Quorra", "Tesk", "Vandry", "Ylam",
          "Harrow", "Mendel", "Corvid", "Saltmere", "Ashby", "Lunet", "Pellin", "Rook", "Gantry"]
JOBS = ["baker", "miller", "weaver", "potter", "smith", "tailor", "farmer", "sailor", "mason",
        "glazier", "cooper", "tanner", "scribe", "herbalist", "carpenter", "fisher"]
PETS = ["ferret", "parrot", "tortoise", "goat", "hound", "cat", "owl", "hare", "pony", "toad",
        "lizard", "raven"]
COLOURS = ["teal", "amber", "crimson", "ochre", "violet", "silver", "olive", "indigo", "coral",
           "jade", "umber", "scarlet"]
FIELDS = [("city", CITIES), ("job", JOBS), ("pet", PETS), ("colour", COLOURS)]
ITEMS = ["apples", "coins", "marbles", "stamps", "shells", "pencils", "cards", "beads", "eggs", "nails"]
ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr",
          "kl", "st", "tr", "th", "sh"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ee"]
CODAS = ["", "n", "r", "l", "s", "th", "m", "k"]


def make_people(rng, n):
    """n distinct two-syllable names, each with one value per field."""
    names, seen = [], set()
    while len(names) < n:
        name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(2))
        name = name.capitalize()
        if name not in seen and 4 <= len(name) <= 9:
            seen.add(name)
            names.append(name)
    return [{"name": nm, **{f: rng.choice(vals) for f, vals in FIELDS}} for nm in names]


# Question and sentence forms per field: the pretraining chats answer with the sentence.
QUESTIONS = {"city": "Where does {n} live?", "job": "What is {n}'s job?",
             "pet": "What pet does {n} keep?", "colour": "What is {n}'s favourite colour?"}
SENTENCES = {"city": "{n} lives in {v}.", "job": "{n} works as a {v}.",
             "pet": "{n} keeps a {v}.", "colour": "{n}'s favourite colour is {v}."}
PROSE = {"city": ["{n} lives in {v}.", "{n} has a house in {v}.", "In {v} you can meet {n}.",
                  "{n} was born and lives in {v}."],
         "job": ["{n} works as a {v}.", "By trade {n} is a {v}.", "Every morning {n} goes to work as a {v}."],
         "pet": ["{n} keeps a {v}.", "{n} has a pet {v}.", "The {v} at home belongs to {n}."],
         "colour": ["{n}'s favourite colour is {v}.", "{n} likes {v} more than any other colour.",
                    "Ask {n} and the answer is always {v}."]}


def card(p, field):
    return "Card: {} | {} = {}".format(p["name"], field, p[field])


def choice_question(rng, p, field, values):
    """MMLU-style: question, four options (one right), the rendering `rwkv-tune eval` uses.
    Returns the row with the letter as answer, the CSV row, and the answer with its reason."""
    wrong = [v for v in values if v != p[field]]
    rng.shuffle(wrong)
    options = wrong[:3] + [p[field]]
    rng.shuffle(options)
    letter = "ABCD"[options.index(p[field])]
    q = QUESTIONS[field].format(n=p["name"])
    rendered = q + "\n" + "\n".join("{}. {}".format(L, o) for L, o in zip("ABCD", options)) + "\n" + CHOICE_SUFFIX
    reasoned = SENTENCES[field].format(n=p["name"], v=p[field])[:-1] + ", so the answer is " + letter + "."
    return {"question": rendered, "answer": letter}, [q] + options + [letter], reasoned


def arith_problem(rng, people):
    """Two to four steps with up to four-digit numbers and two-digit products, so that the small
    demo model makes mistakes and a larger one makes fewer; the solution states every step."""
    p, q = rng.sample(people, 2)
    a, b = p["name"], q["name"]
    item = rng.choice(ITEMS)
    kind = rng.randrange(4)
    w = t = 0
    if kind == 0:  # buy then give away
        x, y = rng.randrange(1000, 9000), rng.randrange(100, 5000)
        s = x + y
        z = rng.randrange(1, s)
        r = s - z
        text = "{a} has {x} {i}. {a} buys {y} more and then gives {z} to {b}. How many {i} does {a} have now?"
        sol = "{a} starts with {x} {i}. After buying {y} more: {x} + {y} = {s}. After giving {z} away: {s} - {z} = {r}."
    elif kind == 1:  # boxes times per box, plus extra
        x, y, z = rng.randrange(12, 100), rng.randrange(12, 100), rng.randrange(1, 1000)
        s, r = x * y, x * y + z
        text = "{a} packs {x} boxes with {y} {i} in each box and has {z} loose {i}. How many {i} does {a} have in all?"
        sol = "The boxes hold {x} * {y} = {s} {i}. With the loose ones: {s} + {z} = {r}."
    elif kind == 2:  # two people pool then share
        x, y = rng.randrange(100, 5000), rng.randrange(100, 5000)
        s = x + y
        z = rng.choice([d for d in range(2, 10) if s % d == 0] or [1])
        r = s // z
        text = "{a} has {x} {i} and {b} has {y} {i}. They put them together and share them equally among {z} friends. How many {i} does each friend get?"
        sol = "Together they have {x} + {y} = {s} {i}. Shared among {z}: {s} / {z} = {r}."
    else:  # four steps: earn, earn again, a gift, spend
        x, y, w = rng.randrange(100, 3000), rng.randrange(100, 3000), rng.randrange(100, 3000)
        s = x + y
        t = s + w
        z = rng.randrange(1, t)
        r = t - z
        text = "{a} collects {x} {i} on Monday and {y} on Tuesday, then {b} gives {a} {w} more. {a} loses {z} of them. How many {i} are left?"
        sol = "After two days: {x} + {y} = {s}. With the gift: {s} + {w} = {t}. After losing {z}: {t} - {z} = {r}."
    fmt = dict(a=a, b=b, i=item, x=x, y=y, z=z, s=s, r=r, w=w, t=t)
    return {"question": text.format(**fmt), "answer": sol.format(**fmt) + "\n#### {}".format(r)}


FILLER_SUBJECTS = ["The market", "The river", "The old bridge", "The harbour", "The mill", "The library",
                   "The north road", "The square", "The bell tower", "The orchard"]
FILLER_PREDICATES = ["is busy in the morning", "is quiet after dark", "was rebuilt last spring",
                     "smells of bread and rain", "is painted every few years", "floods when the snow melts",
                     "is where the town meets on feast days", "is older than anyone remembers"]


def filler(rng):
    city = rng.choice(CITIES)
    return " ".join("{} of {} {}.".format(rng.choice(FILLER_SUBJECTS), city, rng.choice(FILLER_PREDICATES))
                    for _ in range(rng.randrange(2, 6)))


def dump_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def split_unique(rng, make, n_train, n_eval):
    """n_train + n_eval items with distinct questions; eval questions never appear in train."""
    seen, rows = set(), []
    while len(rows) < n_train + n_eval:
        r = make()
        if r["question"] not in seen:
            seen.add(r["question"])
            rows.append(r)
    return rows[:n_train], rows[n_train:]


SHORT_TRAIN = 400  # arith_short training problems
VILLAGE_EVERY = 10  # village people are written about in every 10th corpus round only


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--people", type=int, default=200, help="core people")
    ap.add_argument("--village", type=int, default=400, help="village people (rarely mentioned)")
    ap.add_argument("--corpus", help="also write the pretraining corpus (JSON Lines) here")
    ap.add_argument("--corpus-rounds", type=int, default=20, help="passes over the world in the corpus")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    everyone = make_people(rng, args.people + args.village)
    core, village = everyone[:args.people], everyone[args.people:]

    arith_train, arith_eval = split_unique(rng, lambda: arith_problem(rng, everyone), 4000, 200)

    # Facts: every (person, field) pair is in the corpus's prose; the question forms differ.
    # The eval split: 100 core and 100 village pairs whose questions never enter the corpus.
    core_pairs = [(p, f) for p in core for f, _ in FIELDS]
    village_pairs = [(p, f) for p in village for f, _ in FIELDS]
    rng.shuffle(core_pairs)
    rng.shuffle(village_pairs)
    eval_pairs = core_pairs[:100] + village_pairs[:100]
    rng.shuffle(eval_pairs)
    train_pairs = core_pairs[100:] + village_pairs[100:]
    facts_eval, facts_csv, facts_train = [], [], []
    for p, f in eval_pairs:
        row, csv_row, _ = choice_question(rng, p, f, dict(FIELDS)[f])
        facts_eval.append(row)
        facts_csv.append(csv_row)
    for p, f in train_pairs:
        row, _, reasoned = choice_question(rng, p, f, dict(FIELDS)[f])
        facts_train.append({"question": row["question"], "answer": reasoned})

    # Format task: 60 train, 60 held-out prompts over core people/fields disjoint from each other.
    fmt_rows = [{"question": QUESTIONS[f].format(n=p["name"]), "answer": card(p, f)[len("Card: "):]}
                for p, f in core_pairs[100:220]]
    format_train, format_eval = fmt_rows[:60], fmt_rows[60:]

    os.makedirs(args.out, exist_ok=True)
    for name, rows in [("arith_train", arith_train), ("arith_eval", arith_eval), ("facts_train", facts_train),
                       ("facts_eval", facts_eval), ("format_train", format_train), ("format_eval", format_eval)]:
        dump_jsonl(os.path.join(args.out, name + ".jsonl"), rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(facts_csv)
    with open(os.path.join(args.out, "facts_eval.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())

    if args.corpus:
        held_out = {r["question"] for r in arith_eval}
        write_corpus(args.corpus, rng, core, village, arith_train, facts_train, train_pairs, args.corpus_rounds,
                     held_out)

    # (d) from its own generator, so that the files above and the corpus stay byte-identical.
    short_rng = random.Random(args.seed + 1000)
    taken = {r["question"] for r in arith_train + arith_eval}
    short_train = []
    while len(short_train) < SHORT_TRAIN:
        r = arith_problem(short_rng, everyone)
        if r["question"] not in taken:
            taken.add(r["question"])
            short_train.append({"question": r["question"], "answer": r["answer"].split("\n")[-1]})
    dump_jsonl(os.path.join(args.out, "arith_short_train.jsonl"), short_train)
    dump_jsonl(os.path.join(args.out, "arith_short_eval.jsonl"), arith_eval)


def biography(rng, p):
    """A short biography in random order and wording, and a sentence-form chat about one fact."""
    fields = [f for f, _ in FIELDS]
    rng.shuffle(fields)
    bio = {"text": " ".join(rng.choice(PROSE[f]).format(n=p["name"], v=p[f]) for f in fields)}
    f = rng.choice(fields)
    return [bio, {"question": QUESTIONS[f].format(n=p["name"]), "answer": SENTENCES[f].format(n=p["name"], v=p[f])}]


def write_corpus(path, rng, core, village, arith_train, facts_train, train_pairs, rounds, held_out):
    """Documents in random order. Chats are {"question","answer"} so they are rendered and
    tokenized exactly as the tuner renders them; prose is {"text"}."""
    docs = []
    everyone = core + village
    for round_index in range(rounds):
        for p in core:
            docs.extend(biography(rng, p))
        if round_index % VILLAGE_EVERY == 0:
            for p in village:
                docs.extend(biography(rng, p))
        for _ in range(len(core) // 8):  # registry listings: full and single-field cards
            group = [rng.choice(core) for _ in range(rng.randrange(3, 8))]
            lines = ["Registry of {}.".format(rng.choice(CITIES))]
            for p in group:
                if rng.randrange(2):
                    lines.append("Card: {} | ".format(p["name"]) + " | ".join("{} = {}".format(f, p[f]) for f, _ in FIELDS))
                else:
                    lines.append(card(p, rng.choice(FIELDS)[0]))
            docs.append({"text": "\n".join(lines)})
        for _ in range(len(core) // 4):
            docs.append({"text": filler(rng)})
        for _ in range(600):  # fresh option orders over the train facts: the skill of answering by letter
            p, f = rng.choice(train_pairs)
            row, _, reasoned = choice_question(rng, p, f, dict(FIELDS)[f])
            docs.append({"question": row["question"], "answer": reasoned})
        for _ in range(2000):  # fresh problems, so arithmetic is learnt rather than memorised
            r = arith_problem(rng, everyone)
            if r["question"] not in held_out:
                docs.append(r)
    docs.extend(arith_train * 2)
    docs.extend(facts_train * 2)
    rng.shuffle(docs)
    dump_jsonl(path, docs)


if __name__ == "__main__":
    main()
