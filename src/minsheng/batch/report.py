"""The simulation report: one self-contained HTML page in Chinese, charts inline as SVG.

No CDN and no script: the charts are drawn by matplotlib as SVG (text kept as text, so
the reader's browser draws the Chinese labels with its own fonts) and embedded in the page.
"""

from __future__ import annotations

import io
import warnings
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np

from minsheng.core.money import format_fen, format_yuan_grouped

if TYPE_CHECKING:
    from minsheng.batch.simulate import Simulation

FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
         "PingFang SC", "DejaVu Sans"]


def _figure(width: float = 7.0, height: float = 3.6) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.family": "sans-serif",
                         "font.sans-serif": FONTS, "axes.unicode_minus": False})
    return plt.subplots(figsize=(width, height))


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()
        fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _wan(fen: int) -> float:
    return fen / 1_000_000  # 万元


def chart_tiers(sim: Simulation) -> str:
    from minsheng.batch.simulate import TIERS

    fig, ax = _figure()
    x = np.arange(len(TIERS))
    base = [_wan(sim.baseline.total(k)) for k, _ in TIERS]
    ref = [_wan(sim.reform.total(k)) for k, _ in TIERS]
    ax.bar(x - 0.2, base, 0.4, label="基线", color="#8c9bab")
    ax.bar(x + 0.2, ref, 0.4, label="改革方案", color="#c0392b")
    ax.set_xticks(x, [label for _, label in TIERS])
    ax.set_ylabel("支付（万元）")
    ax.set_title("各项基金支付：基线与改革方案")
    ax.legend()
    return _svg(fig)


def chart_categories(sim: Simulation) -> str:
    from minsheng.batch.simulate import CATEGORY_LABELS

    fig, ax = _figure(7.5, 3.8)
    labels, base, ref = [], [], []
    for i, label in enumerate(CATEGORY_LABELS):
        b = _category_total(sim.baseline, i)
        r = _category_total(sim.reform, i)
        if b or r:
            labels.append(label)
            base.append(_wan(b))
            ref.append(_wan(r))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, base, 0.4, label="基线", color="#8c9bab")
    ax.bar(x + 0.2, ref, 0.4, label="改革方案", color="#c0392b")
    ax.set_xticks(x, labels, rotation=20)
    ax.set_ylabel("三项基金合计（万元）")
    ax.set_title("按救助对象类别的基金支付")
    ax.legend()
    return _svg(fig)


def _category_total(s: Any, category: int) -> int:
    o = s.outlay
    sel = o.filter(o["category"] == category)
    return int(sel["hifp_pay"].sum() + sel["hifmi_pay"].sum() + sel["maf_pay"].sum())


def chart_burden(sim: Simulation) -> str:
    fig, ax = _figure()
    for s, color in ((sim.baseline, "#8c9bab"), (sim.reform, "#c0392b")):
        b = np.sort(s.burden_array()) / 100
        if not len(b):
            continue
        y = 1.0 - np.arange(1, len(b) + 1) / len(b)
        step = max(1, len(b) // 2000)
        ax.plot(np.maximum(b[::step], 1), y[::step], label=s.label, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis, lambda v: f"{v:,.0f}")
    _plain_log_ticks(ax.yaxis, lambda v: np.format_float_positional(v * 100, trim="-") + "%")
    ax.set_xlabel("个人年度负担（元，对数刻度）")
    ax.set_ylabel("超过该负担的人年占比")
    ax.set_title("个人负担分布（互补累积分布）")
    ax.legend()
    return _svg(fig)


def _plain_log_ticks(axis: Any, text: Any) -> None:
    """Label a log axis's decades as plain numbers (``1,000``, ``0.1%``), the others not at
    all: matplotlib's own labels (``10³``) are mathtext, whose parser alone takes most of a
    second to set up."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: text(v)))
    axis.set_minor_formatter(NullFormatter())


def render_report(sim: Simulation) -> str:
    from minsheng.batch.simulate import TIERS, inpatient_rows, outlay_rows

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: resources.files("minsheng.batch").joinpath(
            f"templates/{name}").read_text("utf-8")),
        autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["yuan"] = lambda fen: format_yuan_grouped(int(fen))
    env.filters["signed"] = lambda fen: ("+" if int(fen) > 0 else "") + format_yuan_grouped(int(fen))
    b, r = sim.baseline, sim.reform
    tiers: list[dict[str, Any]] = [{"label": label, "baseline": b.total(k), "reform": r.total(k),
                                    "change": r.total(k) - b.total(k)} for k, label in TIERS]
    fund_b = sum(int(t["baseline"]) for t in tiers)
    fund_r = sum(int(t["reform"]) for t in tiers)
    pb, pr = b.percentiles(), r.percentiles()
    summary = sim.summary()
    return env.get_template("report.html").render(
        sim=sim, tiers=tiers, fund_b=fund_b, fund_r=fund_r,
        by_category=outlay_rows(sim, ["resident", "category"]),
        by_med_type=outlay_rows(sim, ["resident", "med_type"]),
        percentiles=[(k, pb[k], pr[k]) for k in pb], inpatient=inpatient_rows(sim),
        watch=[("因病返贫监测", "relapse_watch"), ("因病致贫监测", "impoverish_watch"),
               ("未纳入", "none"), ("未编码（无法判定）", "unknown")],
        warnings=summary["warnings"], format_fen=format_fen,
        charts={"tiers": chart_tiers(sim), "categories": chart_categories(sim),
                "burden": chart_burden(sim)})
