"""Server-side inline SVG plots (no JavaScript, no CDN): latency histogram and CDF."""

from __future__ import annotations

import html

import numpy as np

W, H = 640, 300
ML, MR, MT, MB = 56, 16, 24, 44


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1e-6
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(start, hi + step * 0.001, step)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.4f}".rstrip("0").rstrip(".")


def _frame(title: str, xlabel: str, ylabel: str, xlo, xhi, ylo, yhi, body: list[str],
           css_id: str) -> str:
    pw, ph = W - ML - MR, H - MT - MB
    sx = lambda x: ML + (x - xlo) / ((xhi - xlo) or 1) * pw  # noqa: E731
    sy = lambda y: MT + ph - (y - ylo) / ((yhi - ylo) or 1) * ph  # noqa: E731
    out = [f'<svg id="{css_id}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
           f'width="{W}" height="{H}" role="img" aria-label="{html.escape(title)}">',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>',
           f'<text x="{W/2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for t in _ticks(xlo, xhi):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{MT+ph}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{MT+ph+14}" text-anchor="middle" font-size="10">{_fmt(t)}</text>')
    for t in _ticks(ylo, yhi, 4):
        y = sy(t)
        out.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML+pw}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{ML-4}" y="{y+3:.1f}" text-anchor="end" font-size="10">{_fmt(t)}</text>')
    out.append(f'<line x1="{ML}" y1="{MT+ph}" x2="{ML+pw}" y2="{MT+ph}" stroke="#333"/>'
               f'<line x1="{ML}" y1="{MT}" x2="{ML}" y2="{MT+ph}" stroke="#333"/>')
    out.append(f'<text x="{ML+pw/2}" y="{H-8}" text-anchor="middle" font-size="11">{html.escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{MT+ph/2}" text-anchor="middle" font-size="11" '
               f'transform="rotate(-90 14 {MT+ph/2})">{html.escape(ylabel)}</text>')
    out.extend(b(sx, sy) if callable(b) else b for b in body)
    out.append("</svg>")
    return "".join(out)


def _markers(marks: dict[str, float], yhi: float):
    colors = {"p50": "#2a7", "p90": "#e90", "p99": "#d33"}

    def draw(sx, sy):
        s = []
        for i, (name, v) in enumerate(marks.items()):
            if v is None:
                continue
            x = sx(v)
            s.append(f'<line class="marker" x1="{x:.1f}" y1="{sy(yhi):.1f}" x2="{x:.1f}" y2="{sy(0):.1f}" '
                     f'stroke="{colors.get(name, "#555")}" stroke-dasharray="4 3"/>'
                     f'<text x="{x+3:.1f}" y="{sy(yhi)+12+12*i:.1f}" font-size="10" '
                     f'fill="{colors.get(name, "#555")}">{name} {_fmt(v)}</text>')
        return "".join(s)
    return draw


def _range(a: np.ndarray) -> tuple[float, float, int]:
    """x range for the plot: outliers beyond 1.5 × p99 are left off-scale (and counted),
    so one slow run cannot squash every other run into a single bar."""
    lo, hi = float(a.min()), float(a.max())
    cap = float(np.percentile(a, 99)) * 1.5
    off = 0
    if hi > cap > lo:
        off = int((a > cap).sum())
        hi = cap
    if hi - lo < 1e-9:
        lo, hi = lo * 0.95, hi * 1.05 + 1e-6
    return lo, hi, off


def _offscale_note(off: int, hi: float, total: int) -> str:
    if not off:
        return ""
    return (f'<text class="offscale" x="{W - MR}" y="{MT + 12}" text-anchor="end" font-size="10" '
            f'fill="#555">{off} of {total} runs &gt; {_fmt(hi)} ms (off-scale)</text>')


def histogram_svg(samples_ms: list[float], marks: dict[str, float] | None = None, bins: int = 30) -> str:
    a = np.asarray(samples_ms, float)
    if a.size == 0:
        return '<p class="muted">no samples</p>'
    lo, hi, off = _range(a)
    counts, edges = np.histogram(a[a <= hi], bins=bins, range=(lo, hi))
    ymax = float(counts.max()) * 1.1

    def bars(sx, sy):
        s = []
        for c, e0, e1 in zip(counts, edges[:-1], edges[1:]):
            if c:
                x0, x1 = sx(e0), sx(e1)
                s.append(f'<rect class="bar" x="{x0+0.5:.1f}" y="{sy(c):.1f}" width="{max(x1-x0-1, 1):.1f}" '
                         f'height="{sy(0)-sy(c):.1f}" fill="#4a78c2"><title>{_fmt(e0)}–{_fmt(e1)} ms: {c}</title></rect>')
        return "".join(s)

    body = [bars, _markers(marks or {}, ymax), _offscale_note(off, hi, a.size)]
    return _frame(f"Latency histogram ({a.size} runs)", "latency (ms)", "runs", lo, hi, 0, ymax, body,
                  "latency-histogram")


def cdf_svg(samples_ms: list[float], marks: dict[str, float] | None = None) -> str:
    a = np.sort(np.asarray(samples_ms, float))
    if a.size == 0:
        return '<p class="muted">no samples</p>'
    lo, hi, off = _range(a)
    step = max(1, a.size // 400)
    pts = [(min(a[i], hi), (i + 1) / a.size) for i in range(0, a.size, step)] + [(min(a[-1], hi), 1.0)]

    def line(sx, sy):
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        return f'<polyline class="cdf" points="{d}" fill="none" stroke="#4a78c2" stroke-width="2"/>'

    return _frame("Latency CDF", "latency (ms)", "fraction of runs ≤ x", lo, hi, 0, 1.0,
                  [line, _markers(marks or {}, 1.0), _offscale_note(off, hi, a.size)], "latency-cdf")
