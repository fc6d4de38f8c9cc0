"""Small server-side charts as inline SVG: no JavaScript, nothing loaded from anywhere, stdlib only.

Every chart is an <svg role="img"> with a <title> and a <desc> (named by aria-labelledby), and every
mark carries a text label with its exact value, so nothing is told by colour alone (series also differ
by pattern or marker shape, with a legend in words). Colours come from CSS classes (the page's theme).

Money goes in exact (Decimal, int or decimal text; a float is refused) and is labelled exactly; only the
drawn geometry (positions, lengths) is float. Every piece of text is XML-escaped.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html import escape
from typing import Any

Amount = Decimal | int | str | None
Formatter = Callable[[Decimal], str]

WIDTH = 640.0  # viewBox width; the SVG scales to its container (CSS: width 100%, a max width)
FONT = 12.0


def exact(value: Any) -> Decimal | None:
    """An exact Decimal from Decimal / int / text, None for missing or not a finite number; a float is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise TypeError("charts take exact amounts (Decimal, int or text), not float")
    if isinstance(value, bool):
        raise TypeError("not an amount: bool")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def dollars(amount: Decimal) -> str:
    """'-1760.5' -> '-$1,760.50' (the pages' own rule: include/budget_import/totals.money)."""
    text = format(abs(amount).quantize(Decimal("0.01"), ROUND_HALF_UP), ",.2f")
    return f"-${text}" if amount < 0 else f"${text}"


def count(amount: Decimal) -> str:
    return f"{amount:,f}" if amount != amount.to_integral_value() else f"{int(amount):,}"


def percent(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.1'), ROUND_HALF_UP):f}%".replace(".0%", "%")


def _t(text: Any) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, short: 2 decimals at most."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _cls(name: str) -> str:
    """A CSS class name from data (state names): letters, digits, - and _ only."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


class _Scale:
    """value -> position along [start, end], for a domain that always holds 0 (bars grow from zero)."""

    def __init__(self, values: Sequence[Decimal], start: float, end: float) -> None:
        low = min([Decimal(0), *values])
        high = max([Decimal(0), *values])
        if high == low:
            high = low + 1
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: Decimal) -> float:
        share = (value - self.low) / (self.high - self.low)  # exact ratio, drawn as float
        return self.start + float(share) * (self.end - self.start)


def _svg(ident: str, title: str, desc: str, height: float, body: list[str], css: str = "") -> str:
    ident = _cls(ident)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart{(" " + css) if css else ""}" role="img" '
        f'viewBox="0 0 {_n(WIDTH)} {_n(height)}" width="{_n(WIDTH)}" height="{_n(height)}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-size="{_n(FONT)}">'
        f'<title id="{ident}-title">{_t(title)}</title><desc id="{ident}-desc">{_t(desc)}</desc>'
        + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[str], y: float, kind: str = "bar") -> list[str]:
    out, x = [], 0.0
    for i, name in enumerate(series):
        if kind == "bar":
            out.append(f'<rect class="s{i}" x="{_n(x)}" y="{_n(y - 10)}" width="14" height="10"/>')
        else:
            out.append(f'<line class="s{i}" x1="{_n(x)}" y1="{_n(y - 5)}" x2="{_n(x + 18)}" y2="{_n(y - 5)}"/>{_marker(i, x + 9, y - 5)}')
        out.append(f'<text class="legend" x="{_n(x + 22)}" y="{_n(y)}">{_t(name)}</text>')
        x += 22 + 7.5 * len(name) + 18
    return out


def _marker(i: int, x: float, y: float, tip: str = "") -> str:
    title = f"<title>{_t(tip)}</title>" if tip else ""
    if i % 2 == 0:
        return f'<circle class="m{i}" cx="{_n(x)}" cy="{_n(y)}" r="3.5">{title}</circle>'
    return f'<rect class="m{i}" x="{_n(x - 3.5)}" y="{_n(y - 3.5)}" width="7" height="7">{title}</rect>'


def grouped_bars(ident: str, title: str, desc: str, series: Sequence[str], groups: Sequence[tuple[str, Sequence[Amount]]],
                 fmt: Formatter = dollars) -> str:
    """Horizontal bars, one group per category (e.g. a cost type) with one bar per series (e.g. Spectrum,
    Procore), each bar labelled '<series> <exact amount>'. A missing value is labelled 'none', drawn as nothing."""
    values = [[exact(v) for v in vals] for _, vals in groups]
    label_w, value_w = 150.0, 210.0
    scale = _Scale([v for row in values for v in row if v is not None], label_w, WIDTH - value_w)
    bar_h, gap = 16.0, 12.0
    body = _legend(series, 14)
    y = 26.0
    zero = scale(Decimal(0))
    for (category, _), row in zip(groups, values, strict=True):
        top = y
        body.append(f'<g class="group"><text class="cat" x="0" y="{_n(top + bar_h * len(series) / 2 + 4)}">{_t(category)}</text>')
        for i, (name, value) in enumerate(zip(series, row, strict=True)):
            text = f"{name} {fmt(value)}" if value is not None else f"{name} none"
            if value is not None:
                left, right = sorted((zero, scale(value)))
                body.append(f'<rect class="s{i}" x="{_n(left)}" y="{_n(y)}" width="{_n(right - left)}" height="{_n(bar_h - 2)}" '
                            f'data-value="{_t(value)}"><title>{_t(category)}: {_t(text)}</title></rect>')
            end = max(zero, scale(value)) if value is not None else zero
            body.append(f'<text class="val" x="{_n(end + 6)}" y="{_n(y + bar_h - 5)}">{_t(text)}</text>')
            y += bar_h
        body.append("</g>")
        y += gap
    body.append(f'<line class="axis" x1="{_n(zero)}" y1="20" x2="{_n(zero)}" y2="{_n(y - gap + 2)}"/>')
    return _svg(ident, title, desc, y + 4, body, "bars")


def columns(ident: str, title: str, desc: str, points: Sequence[tuple[str, Amount]], fmt: Formatter = count,
            top: Amount = None, series: str = "") -> str:
    """Vertical bars over time (oldest left), each labelled with its value above and its x label below.
    `top` fixes the scale's top (e.g. 100 for a rate); None: the largest value."""
    values = [exact(v) for _, v in points]
    height, base_y, head = 150.0, 118.0, (34.0 if series else 18.0)  # room for the legend above the tallest label
    known = [v for v in values if v is not None]
    top_value = exact(top)
    scale = _Scale([*known, *([top_value] if top_value is not None else [])], base_y, head)
    n = max(1, len(points))
    left = 8.0
    slot = (WIDTH - left) / n
    bar_w = min(48.0, slot * 0.7)
    body = []
    if series:
        body += _legend([series], 12)
    body.append(f'<line class="axis" x1="{_n(left)}" y1="{_n(base_y)}" x2="{_n(WIDTH)}" y2="{_n(base_y)}"/>')
    every = max(1, -(-n // 10))  # at most about 10 x labels
    for i, ((label, _), value) in enumerate(zip(points, values, strict=True)):
        cx = left + slot * i + slot / 2
        text = fmt(value) if value is not None else "none"
        if value is not None:
            y0, y1 = sorted((scale(Decimal(0)), scale(value)))
            body.append(f'<rect class="s0" x="{_n(cx - bar_w / 2)}" y="{_n(y0)}" width="{_n(bar_w)}" height="{_n(y1 - y0)}" '
                        f'data-value="{_t(value)}"><title>{_t(label)}: {_t(text)}</title></rect>')
            label_y = min(y0, y1) - 4
        else:
            label_y = base_y - 4
        body.append(f'<text class="val" x="{_n(cx)}" y="{_n(label_y)}" text-anchor="middle">{_t(text)}</text>')
        if i % every == 0 or i == n - 1:
            body.append(f'<text class="x" x="{_n(cx)}" y="{_n(base_y + 16)}" text-anchor="middle">{_t(label)}</text>')
    return _svg(ident, title, desc, height, body, "columns")


def lines(ident: str, title: str, desc: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[Amount]]],
          fmt: Formatter = dollars) -> str:
    """Lines over time (oldest left), one per series, told apart by dash and marker shape as well as colour;
    every point has its exact value as a tooltip, and the latest point of each series is labelled."""
    values = [[exact(v) for v in vals] for _, vals in series]
    height, base_y, head, left, right = 190.0, 150.0, 30.0, 8.0, 150.0
    scale = _Scale([v for row in values for v in row if v is not None], base_y, head)
    n = max(1, len(x_labels))
    slot = (WIDTH - left - right) / n
    body = _legend([name for name, _ in series], 12, kind="line")
    body.append(f'<line class="axis" x1="{_n(left)}" y1="{_n(base_y)}" x2="{_n(WIDTH - right)}" y2="{_n(base_y)}"/>')
    every = max(1, -(-n // 8))
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            body.append(f'<text class="x" x="{_n(left + slot * i + slot / 2)}" y="{_n(base_y + 16)}" text-anchor="middle">{_t(label)}</text>')
    label_ys: list[float] = []
    for k, ((name, _), row) in enumerate(zip(series, values, strict=True)):
        pts = [(left + slot * i + slot / 2, scale(v), v, x_labels[i] if i < len(x_labels) else "") for i, v in enumerate(row) if v is not None]
        if not pts:
            continue
        path = " ".join(f"{'M' if j == 0 else 'L'}{_n(x)} {_n(y)}" for j, (x, y, _, _) in enumerate(pts))
        body.append(f'<path class="s{k}" d="{path}" fill="none"/>')
        body += [_marker(k, x, y, f"{name}, {lab}: {fmt(v)}") for x, y, v, lab in pts]
        x, y, v, _ = pts[-1]
        ly = y + 4
        while any(abs(ly - other) < FONT + 1 for other in label_ys):  # two series ending level: keep both labels readable
            ly += FONT + 2
        label_ys.append(ly)
        body.append(f'<text class="val" x="{_n(x + 8)}" y="{_n(ly)}">{_t(name)} {_t(fmt(v))}</text>')
    return _svg(ident, title, desc, height, body, "lines")


def status_bars(ident: str, title: str, desc: str, items: Sequence[tuple[str, str, int]]) -> str:
    """Horizontal bars of counts (label, css state class, count), each labelled with its label and count."""
    known = [Decimal(n) for _, _, n in items]
    label_w = 170.0
    scale = _Scale(known, label_w, WIDTH - 60)
    bar_h = 20.0
    body = []
    y = 4.0
    for (label, state, n), value in zip(items, known, strict=True):
        end = scale(value)
        body.append(f'<g class="st-{_cls(state)}"><text class="cat" x="0" y="{_n(y + 14)}">{_t(label)}</text>'
                    f'<rect class="bar" x="{_n(label_w)}" y="{_n(y)}" width="{_n(end - label_w)}" height="{_n(bar_h - 4)}" data-value="{n}">'
                    f'<title>{_t(label)}: {n}</title></rect>'
                    f'<text class="val" x="{_n(end + 6)}" y="{_n(y + 13)}">{n}</text></g>')
        y += bar_h
    return _svg(ident, title, desc, y + 4, body, "status")
