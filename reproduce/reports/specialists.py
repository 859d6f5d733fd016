"""Tables, figures and verdicts of the specialists chapter (section 5: Tables 2, 3 and 4 in kind)."""
from __future__ import annotations

from collections import Counter

from .. import paper, verdicts
from .common import described_runs, fmt, paper_explorations, relative_pct, verdict_word, with_explorations
from ..stats import spearman

MIN_CLASSES, MIN_SPECIALISTS = 1000, 30  # the bar for the `paper` profile
MIN_ROW_IMAGES = verdicts.TABLE4_MIN_IMAGES  # the same rows the scorecard judges the trend on

VERDICT_RULE = (
    "Judged on the `paper`-profile run only, on the relative claims, since glyphs are not JFT: the specialists are "
    f"*reproduced* when the label space has at least {MIN_CLASSES:,} classes, at least {MIN_SPECIALISTS} "
    "specialists are trained, the combined system's top-1 accuracy improves on the generalist's (mean relative "
    f"change over seeds > 0; paper: +{paper.paper('jft.relative_top1_gain_pct')}%) and, as in Table 4, the "
    "improvement grows with the number of specialists covering the correct class (a positive Spearman correlation "
    f"between that number, from 1 up, and the relative change, over rows of Table 4 with at least {MIN_ROW_IMAGES} "
    "test images, pooled over seeds).")

VARIANTS = {"dustbin": "+ dustbin specialists (early stopped)",
            "soft": "+ full-softmax soft-target specialists (no early stopping)"}


def card(record: dict):
    import pandas as pd
    r = record["results"]
    c = r["card"]
    cfg = record["config"]
    items = [("dataset", record["data_source"]), ("classes", f"{c['classes']:,}")]
    if cfg["dataset"] == "glyphs":
        items += [("code points merged into another class (identical in every face)", f"{c['merged_code_points']}"),
                  ("training faces", ", ".join(c["train_faces"])),
                  ("held-out test faces", ", ".join(c["test_faces"])),
                  ("training masters (augmented anew at every step)", f"{c['train_masters']:,}"),
                  ("validation / test images (fixed augmented draws)", f"{c['val_images']:,} / {c['test_images']:,}")]
    else:
        items += [("training / validation / test images", f"{c['train_images']:,} / {c['val_images']:,} / "
                                                          f"{c['test_images']:,}")]
    a = cfg["arch"]
    convs = " - ".join(f"2 x conv3x3({ch}) - pool" for ch in a["channels"])
    items += [("network (generalist and each specialist)", f"{convs} - fc({a['hidden']}) - classes"),
              ("specialists per seed", ", ".join(str(s["n_specialists"]) for s in r["per_seed"])),
              ("classes per specialist (seed 0)", f"{min(r['per_seed'][0]['sizes'])} to "
                                                  f"{max(r['per_seed'][0]['sizes'])} (+ dustbin)"),
              ("seeds (whole pipeline repeated)", str(cfg["seeds"]))]
    return pd.DataFrame(items, columns=["", "value"]).set_index("")


def _masters(record: dict):
    """One training master per class (the first face that draws it), for pictures of the clusters."""
    import numpy as np

    from ..datasets import glyphs, image_sets
    g = glyphs.build(ranges=image_sets.GLYPH_RANGES[record["config"]["glyph_ranges"]])
    first = {}
    for i in np.nonzero(~g.test_face[g.face])[0]:
        first.setdefault(int(g.label[i]), g.masters[i])
    return first


def plot_clusters(record: dict, n_clusters: int = 8, per_cluster: int = 14, seed: int = 0):
    """Table 2 in kind: a few of the clusters found from the generalist's confusions (no labels used), each row one
    specialist's classes drawn in a training face. Glyph runs only (other datasets list class names)."""
    import matplotlib.pyplot as plt
    r = record["results"]
    subsets = r["per_seed"][seed]["subsets"]
    # the smallest clusters are the most confusable groups; show a spread of sizes
    pick = sorted(range(len(subsets)), key=lambda j: len(subsets[j]))
    step = max(1, len(pick) // n_clusters)
    pick = pick[::step][:n_clusters]
    masters = _masters(record) if record["config"]["dataset"] == "glyphs" else None
    fig, axes = plt.subplots(len(pick), per_cluster, figsize=(per_cluster * 0.55, len(pick) * 0.62))
    axes = axes.reshape(len(pick), per_cluster)
    for row, j in zip(axes, pick):
        classes = subsets[j]
        for k, ax in enumerate(row):
            ax.set_axis_off()
            if k < len(classes):
                if masters is not None:
                    ax.imshow(masters[classes[k]], cmap="gray_r", vmin=0, vmax=255)
                else:
                    ax.text(0.5, 0.5, r["classes"][classes[k]][:10], ha="center", va="center", fontsize=6)
        row[0].set_title(f"{len(classes)} classes", fontsize=7, loc="left", x=0.0, y=0.95)
    fig.suptitle(f"clusters of the generalist's confusions (seed {seed}): one specialist per row", fontsize=9)
    fig.tight_layout()
    return fig


def table3(this_run: dict, records: dict):
    """Conditional and top-1 test accuracy, generalist and with specialists; paper beside recorded runs."""
    import pandas as pd
    paper_cells = {"generalist": (paper.paper("jft.baseline_conditional_acc"), paper.paper("jft.baseline_top1")),
                   VARIANTS["dustbin"]: (paper.paper("jft.specialists_conditional_acc"),
                                         paper.paper("jft.specialists_top1")),
                   VARIANTS["soft"]: None}

    def cells(rec):
        s = rec["results"]["summary"]
        out = {"generalist": (s["generalist"]["conditional_acc_generalist"], s["generalist"]["test_acc_generalist"])}
        for v, label in VARIANTS.items():
            out[label] = (s[v]["conditional_acc_combined"], s[v]["test_acc_combined"])
        return out
    rows = []
    for label, pc in paper_cells.items():
        row = {"system": label, "paper (JFT): conditional / top-1": f"{pc[0]} / {pc[1]}" if pc else "not reported"}
        for name, rec in (("recorded `paper`", records.get("paper")), ("recorded `quick`", records.get("quick")),
                          (f"this run (`{this_run['profile']}`)", this_run)):
            row[f"{name}: conditional / top-1"] = (f"{fmt(cells(rec)[label][0], 2)} / {fmt(cells(rec)[label][1], 2)}"
                                                    if rec else "not yet run")
        rows.append(row)
    gains = {"system": "relative top-1 change", "paper (JFT): conditional / top-1":
             f"+{paper.paper('jft.relative_top1_gain_pct')}%"}
    for name, rec in (("recorded `paper`", records.get("paper")), ("recorded `quick`", records.get("quick")),
                      (f"this run (`{this_run['profile']}`)", this_run)):
        gains[f"{name}: conditional / top-1"] = (
            " / ".join(f"{fmt(rec['results']['summary'][v]['relative_top1_gain_pct'], 2)}% ({v})" for v in VARIANTS)
            if rec else "not yet run")
    rows.append(gains)
    return pd.DataFrame(rows).set_index("system")


def table4(record: dict):
    """Change in top-1 correct by the number of active specialists covering the correct class, pooled over seeds."""
    import pandas as pd
    s = record["results"]["summary"]
    paper_rows = {k: (n, d, rel) for k, n, d, rel in paper.JFT_COVERAGE_TABLE}
    rows = []
    keys = [r["covering"] for r in s["dustbin"]["table4_pooled"]]
    soft = {r["covering"]: r for r in s["soft"]["table4_pooled"]}
    for row in s["dustbin"]["table4_pooled"]:
        k = row["covering"]
        p = paper_rows.get(k)
        rows.append({"covering specialists": k, "test images": row["images"],
                     # how much room the row leaves: the generalist's own accuracy on it
                     "generalist correct": f"{100 * row['generalist_correct'] / row['images']:.1f}%",
                     "dustbin: change in correct": f"{row['delta_correct']:+d}",
                     "dustbin: relative": relative_pct(row['relative_change_pct']),
                     # the other view of the room: of the generalist's wrong answers in the row, the share fixed
                     "dustbin: errors fixed": _fixed_share(row),
                     "soft: change in correct": f"{soft[k]['delta_correct']:+d}" if k in soft else "—",
                     "soft: relative": relative_pct(soft[k]['relative_change_pct']) if k in soft else "—",
                     "paper: images / change / relative": f"{p[0]:,} / {p[1]:+,} / {p[2]:+.1f}%" if p else "—"})
    del keys
    return pd.DataFrame(rows).set_index("covering specialists")


def _fixed_share(row: dict) -> str:
    wrong = row["images"] - row["generalist_correct"]
    if "wrong_to_right" not in row or not wrong:
        return "—"
    return f"{100 * row['wrong_to_right'] / wrong:.1f}%"


ROW0_PARTS = {"no_active_specialist": "no active specialist (the combination leaves them alone)",
              "active_but_uncovered": "an active specialist, none covering the true class"}


def row0_table(record: dict):
    """Table 4's row 0 split in its two kinds of image, pooled over seeds, for both kinds of specialist; None for a
    record made before the split was kept (commit 87333ab)."""
    import pandas as pd
    s = record["results"]["summary"]
    if "table4_row0_pooled" not in s["dustbin"]:
        return None
    rows = []
    for part, label in ROW0_PARTS.items():
        row = {"row 0 images with": label}
        for v in VARIANTS:
            r = s[v]["table4_row0_pooled"][part]
            row[f"{v}: images"] = r["images"]
            row[f"{v}: generalist correct"] = r["generalist_correct"]
            row[f"{v}: wrong -> right / right -> wrong"] = f"{r['wrong_to_right']} / {r['right_to_wrong']}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("row 0 images with")


def row0_text(record: dict) -> str:
    """Markdown: why our row 0 changes and why its relative change is large, from the record's own counts."""
    s = record["results"]["summary"]
    if "table4_row0_pooled" not in s["dustbin"]:
        return "This record predates the split of row 0 (rerun it to see it)."
    d = s["dustbin"]["table4_row0_pooled"]
    none, unc = d["no_active_specialist"], d["active_but_uncovered"]
    row0 = next(r for r in s["dustbin"]["table4_pooled"] if r["covering"] == "0")
    uncovered = (f"a specialist is active but none covers the true class. Since a specialist is active when its "
                 "classes contain the generalist's top-1 class (section 5.4), the generalist is wrong on every such "
                 f"image (measured: {unc['generalist_correct']} correct), and the dustbin can only help there: "
                 f"{unc['wrong_to_right']} became right.")
    if none["images"]:
        head = (f"Row 0 holds two kinds of image. On {none['images']:,} no specialist is active, and the combination "
                f"leaves them alone ({none['wrong_to_right']} changed to right, {none['right_to_wrong']} to wrong); "
                f"every one of row 0's {row0['generalist_correct']:,} correct generalist answers is among them. On the "
                f"other {unc['images']:,} " + uncovered + f" Row 0's relative change "
                f"({relative_pct(row0['relative_change_pct'])}) divides those fixes by the first kind's correct answers, "
                "which is why it is large.")
    else:
        head = (f"Every test image has an active specialist here (the clusters cover every class the generalist "
                f"puts first), so row 0 holds one kind of image: on all {unc['images']:,} of them " + uncovered +
                " Row 0's relative change is undefined: the generalist has no correct answer there to divide by.")
    return head + (" The paper reports no change in row 0; with its inference rule as written, we find that a dustbin "
                   "does move these images, and we keep the rule and report the difference rather than hide the row.")


def plot_table4(record: dict):
    """Table 4 as a plot: relative change in top-1 correct against the number of covering specialists."""
    import matplotlib.pyplot as plt
    import numpy as np
    s = record["results"]["summary"]
    fig, ax = plt.subplots(figsize=(7, 4))
    order = [str(i) for i in range(10)] + ["10 or more"]
    px = [order.index(k) for k, *_ in paper.JFT_COVERAGE_TABLE]
    ax.plot(px, [rel for *_, rel in paper.JFT_COVERAGE_TABLE], "k--o", ms=4, label="paper (JFT, 61 specialists)")
    for i, (v, color) in enumerate((("dustbin", "C0"), ("soft", "C2"))):
        rows = [r for r in s[v]["table4_pooled"] if r["images"] >= MIN_ROW_IMAGES]
        x = np.array([order.index(r["covering"]) for r in rows]) + (i - 0.5) * 0.25
        ax.bar(x, [r["relative_change_pct"] for r in rows], width=0.25, color=color, alpha=0.8,
               label=VARIANTS[v].lstrip("+ "))
        for xi, r in zip(x, rows):
            ax.text(xi, 0, f"{r['images']:,}", rotation=90, fontsize=6, ha="center", va="bottom", color="k")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, fontsize=8)
    ax.set_xlabel("active specialists covering the correct class")
    ax.set_ylabel("relative change in top-1 correct (%)")
    ax.set_title(f"Table 4 ({record['profile']} run, pooled over seeds; numbers: test images per row)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_in_subset(record: dict, seed: int = 0):
    """Each specialist's accuracy on the test images of its own classes against the generalist's restricted to the
    same classes (one dot per specialist): above the diagonal the specialist knows more than the generalist there."""
    import matplotlib.pyplot as plt
    per_seed = record["results"]["per_seed"][seed]
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    lo, hi = 100.0, 0.0
    for v, color in (("dustbin", "C0"), ("soft", "C2")):
        i = per_seed[v].get("in_subset")
        if i is None:  # a record made before this was measured
            continue
        ax.scatter(i["generalist_acc"], i["specialist_acc"], s=14, color=color, alpha=0.8,
                   label=VARIANTS[v].lstrip("+ ").split(" (")[0])
        lo = min(lo, *i["generalist_acc"], *i["specialist_acc"])
        hi = max(hi, *i["generalist_acc"], *i["specialist_acc"])
    ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8, ls="--")
    ax.set_xlabel("generalist, restricted to the classes (%)")
    ax.set_ylabel("specialist, argmax over its classes (%)")
    ax.set_title(f"on each specialist's own classes (seed {seed})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def in_subset_text(record: dict) -> str:
    """One sentence per variant: how much the specialists beat the generalist on their own classes."""
    s, per_seed = record["results"]["summary"], record["results"]["per_seed"]
    total = sum(p["n_specialists"] for p in per_seed)
    out = []
    for v in VARIANTS:
        if "in_subset_specialist_acc" not in s[v]:
            return "This record predates the measurement (rerun with `--rerun`)."
        a, b = s[v]["in_subset_specialist_acc"], s[v]["in_subset_generalist_acc"]
        better = sum(p[v]["in_subset"]["specialists_better"] for p in per_seed)
        out.append(f"{v} specialists {a['mean']:.2f}% vs the generalist's {b['mean']:.2f}% "
                   f"({a['mean'] - b['mean']:+.2f} points; better in {better} of {total} specialists over seeds)")
    return ("On the test images of their own classes, averaged over specialists and seeds: " + "; ".join(out) + ".")


def _dustbin_stops(record: dict) -> tuple[int, list[int], list[float]] | None:
    """(epochs trained, each dustbin specialist's epoch of lowest validation loss over seeds, the mean validation
    loss by epoch over seeds); None for a record from before the measurement."""
    per_seed = record["results"]["per_seed"]
    if "early_stop_epoch" not in per_seed[0]["dustbin"]:
        return None
    stops = [e for p in per_seed for e in p["dustbin"]["early_stop_epoch"]]
    curves = [p["dustbin"]["val_loss_curve"]["mean"] for p in per_seed]
    mean = [sum(c[i] for c in curves) / len(curves) for i in range(len(curves[0]))]
    return record["config"]["dustbin"]["epochs"], stops, mean


def early_stop_text(record: dict) -> str:
    """Where the dustbin specialists' validation loss was lowest: how many stopped at their last epoch, and the mean
    validation loss per epoch (the evidence for or against training them longer)."""
    found = _dustbin_stops(record)
    if found is None:
        return "This record predates the measurement (rerun with `--rerun`)."
    last, stops, mean = found
    counts = ", ".join(f"{n} at epoch {e}" for e, n in sorted(Counter(stops).items()))
    return (f"Trained for {last} epochs, {sum(e == last for e in stops)} of {len(stops)} specialists (all seeds) had "
            f"their lowest validation loss at the last epoch ({counts}). Their mean validation loss by epoch: "
            + ", ".join(f"{v:.3f}" for v in mean) + ".")


EXPLORE_FOLDER = "specialists-explore"  # under results/paper/: earlier `paper` runs kept as explorations


def explorations(results_dir=None) -> list[tuple[str, dict]]:
    """(tag, record) of the recorded explorations of this chapter's `paper` profile, by tag."""
    return paper_explorations(EXPLORE_FOLDER, results_dir)


def dustbin_epochs_table(record: dict | None, explored: list[tuple[str, dict]]):
    """One row per recorded run, by the dustbin specialists' epochs: how many specialists had their lowest validation
    loss at the last epoch (the evidence that chose the epochs), the mean last-epoch validation loss, then the test
    figures that followed (means +- std over seeds)."""
    import pandas as pd

    from ..results import summarize
    rows = []
    for name, rec in with_explorations(record, explored):
        found = _dustbin_stops(rec)
        if found is None:
            continue
        last, stops, mean = found
        d = rec["results"]["summary"]["dustbin"]
        margin = [a - b for a, b in zip(d["in_subset_specialist_acc"]["values"], d["in_subset_generalist_acc"]["values"])]
        rows.append({"run": name, "commit": rec["provenance"]["commit"][:7], "dustbin epochs": last,
                     "seeds": len(rec["results"]["per_seed"]),
                     "lowest val. loss at the last epoch": f"{sum(e == last for e in stops)} of {len(stops)}",
                     "mean val. loss, last epoch": f"{mean[-1]:.3f}",
                     "own classes: specialist - generalist (points)": fmt(summarize(margin), 2),
                     "top-1 gain (% relative)": fmt(d["relative_top1_gain_pct"], 2)})
    return pd.DataFrame(rows).sort_values("dustbin epochs") if rows else pd.DataFrame()


def plot_generalist(record: dict):
    """The generalist's top-1 over epochs on the test faces and, where recorded, on fresh augmented draws of the
    training faces (what training sees), one line per seed."""
    import matplotlib.pyplot as plt
    import numpy as np
    g = record["results"]["generalist"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, color, what in (("val_acc_curve", "C1", "training faces, fresh draws"), ("test_acc_curve", "C0",
                                                                                     "test faces")):
        for r, c in enumerate(np.array(g.get(key, []))):
            ax.plot(g["epochs"], c, color=color, alpha=0.6, label=f"{what}, one line per seed" if r == 0 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("the generalist's learning curves", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def regime_text(record: dict) -> str:
    """Whether the generalist is in the paper's regime (capacity-limited on effectively unlimited data): its accuracy
    on fresh draws of the training faces against the test faces at the end, and the images it saw per parameter."""
    import numpy as np
    g = record["results"]["generalist"]
    test = np.array(g["test_acc_curve"])[:, -1]
    if "val_acc_curve" not in g:
        return (f"The generalist ends at {test.mean():.2f}% top-1 on the test faces (mean of {len(test)} seeds). This "
                "record predates the curve on fresh draws of the training faces, so its train-test gap is not shown.")
    val = np.array(g["val_acc_curve"])[:, -1]
    seen, params = g["training_images_seen"], g["parameters"]
    last = np.array(g["val_acc_curve"])[:, -2:] if len(g["epochs"]) > 1 else None
    climb = f"; over its last evaluation interval it gained {np.mean(last[:, 1] - last[:, 0]):+.2f} points" \
        if last is not None else ""
    return (f"At the end the generalist ({params:,} parameters; it saw {seen:,} augmented images, {seen / params:.2f} "
            f"per parameter, every one a fresh draw) is at {val.mean():.2f}% top-1 on fresh draws of the training "
            f"faces and {test.mean():.2f}% on the test faces (means over {len(test)} seeds){climb}. JFT's generalist "
            "was capacity-limited on effectively unlimited data: it never saw an image twice, so its training "
            "accuracy was its accuracy on new images of the same distribution. Ours sees every image once too (a "
            "new augmentation each step), so the first curve is its training accuracy, but the draws come from "
            f"{record['results']['card'].get('train_masters', 0):,} master renders of the training faces; the "
            f"{val.mean() - test.mean():.1f}-point gap to the test faces mixes the step to faces it never sees with "
            "whatever it learnt of those masters, and this curve does not separate the two.")


def points_text(record: dict) -> str:
    """Table 3's gain in points of top-1 beside JFT's, and why the relative gain, which the verdict judges, is not
    scale-free: it divides by the generalist's accuracy, which differs between the corpora by a large factor."""
    s = record["results"]["summary"]
    g, c = s["generalist"]["test_acc_generalist"]["mean"], s["dustbin"]["test_acc_combined"]["mean"]
    pg, pc = paper.paper("jft.baseline_top1"), paper.paper("jft.specialists_top1")
    return (f"In points of top-1, the dustbin specialists add {c - g:+.2f} (from {g:.2f}% to {c:.2f}%, means over "
            f"seeds); JFT's added {pc - pg:+.1f} (from {pg:g}% to {pc:g}%). The relative gain divides by the "
            f"generalist's accuracy, and ours is {g / pg:.1f} times JFT's: the paper's {pc - pg:.1f} points would be "
            f"{100 * (pc - pg) / g:.1f}% relative on our generalist, and our {c - g:.2f} points "
            f"{100 * (c - g) / pg:.1f}% on JFT's. The scorecard still judges the relative figure against the "
            f"paper's {paper.paper('jft.relative_top1_gain_pct'):g}%; read it knowing that the same help in points "
            f"reads {g / pg:.1f} times smaller here.")


def claims(record: dict) -> dict:
    r = record["results"]
    s = r["summary"]
    x, y = verdicts.table4_points(record)
    rho = spearman(x, y) if len(x) >= 3 else float("nan")
    gain = s["dustbin"]["relative_top1_gain_pct"]["mean"]
    n_spec = s["n_specialists"]["min"]
    classes = r["card"]["classes"]
    ok = classes >= MIN_CLASSES and n_spec >= MIN_SPECIALISTS and gain > 0 and rho > 0
    return {"gain": gain, "soft_gain": s["soft"]["relative_top1_gain_pct"]["mean"], "rho": rho,
            "n_specialists": n_spec, "classes": classes, "reproduced": ok}


def verdict_text(records: dict, this_run: dict) -> str:
    lines = []
    if records.get("paper") is None:
        lines.append("**No `paper`-profile run is recorded yet** (`reproduce run specialists --profile paper`, about "
                     "3 hours on 2 CPU cores), so nothing is judged reproduced here.")
    for name, rec, judged in described_runs(records, this_run):
        c = claims(rec)
        word = verdict_word(c["reproduced"], judged)
        lines.append(
            f"In {name} (`{rec['profile']}`, {c['classes']:,} classes, at least {c['n_specialists']:g} specialists "
            f"per seed), dustbin specialists change the top-1 accuracy by {c['gain']:+.2f}% relative (mean over "
            f"seeds), full-softmax soft-target specialists by {c['soft_gain']:+.2f}%; the Spearman correlation between "
            f"covering specialists and relative change is {c['rho']:+.2f}{word}.")
    return "\n\n".join(lines)


def back_table(record: dict):
    """Section 7's open question, per net and seed: the generalist, generalist + specialists (dustbin), one net
    distilled from their combined posterior, and its control distilled from the generalist alone; None for a record
    made before the distilled-back nets existed."""
    import pandas as pd
    back = record["results"].get("distilled_back")
    if back is None:
        return None
    rows = []
    for name, net in back["nets"].items():
        for seed, r in enumerate(net["per_seed"]):
            rows.append({"net": name, "seed": seed, "generalist (%)": r["generalist_acc"],
                         "generalist + specialists (%)": r["combined_acc"],
                         "one net from q (%)": r["student_acc"], "control: one net from the generalist (%)":
                         r["control_acc"], "gain kept (%)": r["gain_kept_pct"]})
    return pd.DataFrame(rows).set_index(["net", "seed"])


def back_text(record: dict) -> str:
    """Markdown: what the distilled-back nets reach, from the record's means over seeds."""
    back = record["results"].get("distilled_back")
    if back is None:
        return "This record predates the distilled-back nets (rerun it to see them)."
    s = record["results"]["summary"]["distilled_back"]
    parts = []
    for name, v in s.items():
        st, co, g, c = (v[k]["mean"] for k in ("student_acc", "control_acc", "generalist_acc", "combined_acc"))
        parts.append(
            f"The {name} net distilled from q reaches {st:.2f}% top-1 (mean of {len(v['student_acc']['values'])} "
            f"seeds) in one forward pass, against {g:.2f}% for the generalist and {c:.2f}% for the generalist with "
            f"its specialists ({v['gain_kept_pct']['mean']:.0f}% of that gain kept); its control, the same net on the "
            f"same transfer set distilled from the generalist alone, reaches {co:.2f}%, so the specialists' share "
            f"of the student's accuracy is {st - co:+.2f} points.")
        if st < g:
            epochs = record["config"].get("back", {}).get("epochs")
            seen = record["results"]["generalist"].get("training_images_seen")
            parts.append(
                f"The {name} student falls short of the generalist itself ({st - g:+.2f} points): it learns from "
                f"{back['transfer_images']:,} fixed draws"
                + (f" repeated for {epochs} epochs" if epochs else "")
                + (f", where the generalist saw {seen:,} fresh augmentations" if seen else "")
                + ", so the gain kept is negative and the control, not the generalist, is the comparison that "
                  "isolates what the specialists add.")
    return (f"Every seed's generalist and dustbin specialists give a combined posterior q on {back['transfer_images']:,} "
            f"fixed augmented draws of the training images ({back['transfer_draws']} per image). " + " ".join(parts))


def per_seed_table(record: dict):
    import pandas as pd
    rows = []
    for s in record["results"]["per_seed"]:
        for v in ("dustbin", "soft"):
            t = s[v]["table3"]
            rows.append({"seed": s["seed"], "variant": v, "specialists": s["n_specialists"],
                         "generalist top-1 (%)": t["test_acc_generalist"], "combined top-1 (%)": t["test_acc_combined"],
                         "relative change (%)": t["relative_top1_gain_pct"],
                         "conditional, generalist (%)": t["conditional_acc_generalist"],
                         "conditional, combined (%)": t["conditional_acc_combined"],
                         "conditional images": t["conditional_images"],
                         "own classes: specialists (%)": s[v].get("in_subset", {}).get("mean_specialist_acc"),
                         "own classes: generalist (%)": s[v].get("in_subset", {}).get("mean_generalist_acc"),
                         "training wall (s; 0: a finished checkpoint reused)": s[v]["wall_s"]})
    return pd.DataFrame(rows)


# the paper's numbers this chapter measures: paper key (paper.NUMBERS) -> per-seed values from a record
PAPER_NUMBERS = {
    "jft.baseline_conditional_acc": lambda r: r["results"]["summary"]["generalist"]["conditional_acc_generalist"]["values"],
    "jft.baseline_top1": lambda r: r["results"]["summary"]["generalist"]["test_acc_generalist"]["values"],
    "jft.specialists_conditional_acc": lambda r: r["results"]["summary"]["dustbin"]["conditional_acc_combined"]["values"],
    "jft.specialists_top1": lambda r: r["results"]["summary"]["dustbin"]["test_acc_combined"]["values"],
    "jft.relative_top1_gain_pct": lambda r: r["results"]["summary"]["dustbin"]["relative_top1_gain_pct"]["values"],
    "jft.n_specialists": lambda r: r["results"]["summary"]["n_specialists"]["values"],
}
