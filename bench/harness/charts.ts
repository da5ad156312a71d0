// PNG charts of a result, drawn as SVG here and rasterised with sharp (already a
// dependency of services/core): latency over time (p50, p99), throughput over
// time (acked sends, deliveries) and the latency histogram.
import sharp from 'sharp';
import type { ScenarioResult } from './scenario.js';

const WIDTH = 900;
const HEIGHT = 360;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };

interface Line {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** Axes, grid and labels around `body`; `xMax` undefined leaves the x axis unticked (the bars label themselves). */
function frame(title: string, xLabel: string, yLabel: string, xMax: number | undefined, yMax: number, body: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const ticks: string[] = [];
  for (let i = 0; i <= 5; i += 1) {
    const y = MARGIN.top + plotH - (plotH * i) / 5;
    const value = (yMax * i) / 5;
    ticks.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    ticks.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${Number(value.toPrecision(3))}</text>`);
    const x = MARGIN.left + (plotW * i) / 5;
    if (xMax !== undefined) ticks.push(`<text x="${x}" y="${HEIGHT - MARGIN.bottom + 16}" font-size="11" text-anchor="middle">${Number(((xMax * i) / 5).toPrecision(3))}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${WIDTH / 2}" y="22" font-size="15" text-anchor="middle">${escape(title)}</text>
${ticks.join('\n')}
<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/>
<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/>
<text x="${WIDTH / 2}" y="${HEIGHT - 12}" font-size="12" text-anchor="middle">${escape(xLabel)}</text>
<text x="16" y="${HEIGHT / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${HEIGHT / 2})">${escape(yLabel)}</text>
${body}
</svg>`;
}

function lineChart(title: string, xLabel: string, yLabel: string, lines: Line[]): string {
  const xMax = niceMax(Math.max(1, ...lines.flatMap((line) => line.points.map(([x]) => x))));
  const yMax = niceMax(Math.max(0, ...lines.flatMap((line) => line.points.map(([, y]) => y))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const body = lines
    .map((line, i) => {
      const path = line.points
        .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${(MARGIN.left + (plotW * x) / xMax).toFixed(1)},${(MARGIN.top + plotH - (plotH * y) / yMax).toFixed(1)}`)
        .join(' ');
      const legendX = MARGIN.left + 10 + i * 160;
      return `<path d="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>
<rect x="${legendX}" y="${MARGIN.top + 4}" width="12" height="12" fill="${line.color}"/>
<text x="${legendX + 16}" y="${MARGIN.top + 14}" font-size="12">${escape(line.label)}</text>`;
    })
    .join('\n');
  return frame(title, xLabel, yLabel, xMax, yMax, body);
}

function barChart(title: string, bins: Array<[number, number]>): string {
  const yMax = niceMax(Math.max(1, ...bins.map(([, count]) => count)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const barW = plotW / bins.length;
  const body = bins
    .map(([edge, count], i) => {
      const h = (plotH * count) / yMax;
      const x = MARGIN.left + i * barW;
      return `<rect x="${(x + 1).toFixed(1)}" y="${(MARGIN.top + plotH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7ebb"/>
<text x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 30}" font-size="9" text-anchor="middle">${edge}</text>`;
    })
    .join('\n');
  return frame(title, 'latency bin, lower edge (ms)', 'deliveries', undefined, yMax, body);
}

/** Writes `<base>-latency.png`, `<base>-throughput.png`, `<base>-histogram.png`; returns the file names written. */
export async function writeCharts(result: ScenarioResult, base: string): Promise<string[]> {
  const title = `${result.scenario} (${result.mode}, ${result.size})`;
  const written: string[] = [];
  const render = async (svg: string, suffix: string) => {
    const file = `${base}-${suffix}.png`;
    await sharp(Buffer.from(svg)).png({ compressionLevel: 9, palette: true }).toFile(file);
    written.push(file);
  };
  if (result.series.length > 0) {
    await render(
      lineChart(`${title}: latency over time`, 'seconds', 'ms (send call -> frame decoded)', [
        { label: 'p50', color: '#2a9d8f', points: result.series.map((p) => [p.t, p.p50Ms]) },
        { label: 'p99', color: '#e76f51', points: result.series.map((p) => [p.t, p.p99Ms]) },
      ]),
      'latency',
    );
    await render(
      lineChart(`${title}: throughput over time`, 'seconds', 'per second', [
        { label: 'sends acked', color: '#264653', points: result.series.map((p) => [p.t, p.sendsAckedPerSecond]) },
        { label: 'deliveries', color: '#e9c46a', points: result.series.map((p) => [p.t, p.deliveriesPerSecond]) },
      ]),
      'throughput',
    );
  }
  if (result.histogram.some(([, count]) => count > 0)) await render(barChart(`${title}: latency histogram`, result.histogram), 'histogram');
  return written;
}
