/**
 * Dependency-free SVG line charts for run reports and gradient diagnosis (training curves,
 * gradient norms over steps). Small and deterministic: the same data gives the same bytes.
 *
 * @module
 */

/** One line of a chart. */
export interface Series {
  name: string;
  points: [number, number][];
}

/** Options of {@linkcode lineChart}. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Plot y on a log10 scale (non-positive values are dropped). */
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

/** Renders series as an SVG document with axes, ticks and a legend. */
export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 720, H = o.height ?? 360;
  const m = { l: 70, r: 170, t: 36, b: 48 };
  const ty = (y: number) => (o.logY ? Math.log10(y) : y);
  const pts = series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) =>
      Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0)
    ),
  }));
  const xs = pts.flatMap((s) => s.points.map((p) => p[0]));
  const ys = pts.flatMap((s) => s.points.map((p) => ty(p[1])));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  // epochs and steps are integers: label the x axis with integers
  const intX = xs.every(Number.isInteger) && x1 - x0 >= 4;
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((ty(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4, xv = x0 + ((x1 - x0) * i) / 4;
    const yp = H - m.b - ((yv - y0) / (y1 - y0)) * (H - m.t - m.b);
    out.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${yp.toFixed(1)}" y2="${
        yp.toFixed(1)
      }" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${(yp + 4).toFixed(1)}" text-anchor="end">${
        fmt(o.logY ? 10 ** yv : yv)
      }</text>`,
      `<text x="${px(xv).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${
        fmt(intX ? Math.round(xv) : xv)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${
      H - m.t - m.b
    }" fill="none" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${
      esc(o.yLabel)
    }${o.logY ? " (log)" : ""}</text>`,
  );
  pts.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    if (s.points.length) {
      const d = s.points.map(([x, y], j) =>
        `${j ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`
      ).join("");
      out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.6"/>`);
    }
    const ly = m.t + 14 * i + 8;
    out.push(
      `<line x1="${W - m.r + 10}" x2="${
        W - m.r + 28
      }" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`,
      `<text x="${W - m.r + 32}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
