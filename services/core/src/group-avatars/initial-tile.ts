// The tile of a member without a picture: the first letter of their name on a
// colour derived from their user id, so the same person always looks the same
// and two people rarely do. Rendered as SVG, rasterised by sharp.
import { createHash } from 'node:crypto';

/** An HSL colour from the id's SHA-256: any hue, saturation and lightness kept readable under white text. */
export function tileColour(userId: string): string {
  const digest = createHash('sha256').update(userId).digest();
  const hue = digest.readUInt16BE(0) % 360;
  const saturation = 45 + (digest[2]! % 25);
  const lightness = 38 + (digest[3]! % 14);
  return `hsl(${hue}, ${saturation}%, ${lightness}%)`;
}

/** The first character people would see of `label` (a whole grapheme, upper-cased), or "?" for an empty label. */
export function initialOf(label: string): string {
  const trimmed = label.trim();
  if (trimmed === '') return '?';
  const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const first = segmenter.segment(trimmed)[Symbol.iterator]().next().value?.segment ?? '?';
  return first.toLocaleUpperCase();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An SVG document `size` pixels square: the colour with the initial centred in white. */
export function initialTileSvg(userId: string, label: string, size: number): string {
  const fontSize = Math.round(size * 0.5);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">
<rect width="${size}" height="${size}" fill="${tileColour(userId)}"/>
<text x="50%" y="50%" dy="0.35em" text-anchor="middle" font-family="DejaVu Sans, Noto Sans, Arial, sans-serif" font-size="${fontSize}" fill="#ffffff">${escapeXml(initialOf(label))}</text>
</svg>`;
}
