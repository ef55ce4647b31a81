/**
 * A minimal SVG writer: elements are appended as strings, numbers are rounded to two decimals (small, diffable
 * files), and every id is prefixed so that several charts can be inlined into one HTML page without clashing.
 */
export type Attrs = Record<string, string | number | undefined>;

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Rounds a coordinate to two decimals and drops trailing zeros. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return '0';
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attrString(attrs: Attrs): string {
  let s = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    s += ` ${k}="${escapeXml(typeof v === 'number' ? num(v) : v)}"`;
  }
  return s;
}

/** The font stack of every chart; DejaVu Sans first because it is what the PNG rasteriser is given. */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, Arial, Helvetica, sans-serif';

export interface TextStyle {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** Degrees, about (x, y). */
  rotate?: number;
  /** Vertical alignment via dy: 'middle' centres the text on y, 'hanging' puts its top at y. */
  baseline?: 'alphabetic' | 'middle' | 'hanging';
  extra?: Attrs;
}

export class SvgDocument {
  private readonly parts: string[] = [];
  private readonly defsParts: string[] = [];
  private nextId = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly options: { title?: string; description?: string; idPrefix?: string } = {},
  ) {}

  /** A fresh id, unique within this document and prefixed for uniqueness across documents. */
  id(name: string): string {
    const prefix = (this.options.idPrefix ?? 'c').replace(/[^A-Za-z0-9_-]/g, '-');
    return `${prefix}-${name}-${this.nextId++}`;
  }

  raw(fragment: string): void {
    this.parts.push(fragment);
  }

  def(fragment: string): void {
    this.defsParts.push(fragment);
  }

  element(name: string, attrs: Attrs, content?: string): void {
    this.parts.push(content === undefined ? `<${name}${attrString(attrs)}/>` : `<${name}${attrString(attrs)}>${content}</${name}>`);
  }

  open(name: string, attrs: Attrs = {}): void {
    this.parts.push(`<${name}${attrString(attrs)}>`);
  }

  close(name: string): void {
    this.parts.push(`</${name}>`);
  }

  rect(x: number, y: number, w: number, h: number, attrs: Attrs = {}): void {
    this.element('rect', { x, y, width: Math.max(0, w), height: Math.max(0, h), ...attrs });
  }

  line(x1: number, y1: number, x2: number, y2: number, attrs: Attrs = {}): void {
    this.element('line', { x1, y1, x2, y2, ...attrs });
  }

  path(d: string, attrs: Attrs = {}): void {
    this.element('path', { d, ...attrs });
  }

  text(x: number, y: number, content: string, style: TextStyle = {}): void {
    const size = style.size ?? 12;
    // dy instead of dominant-baseline: rasterisers and browsers agree on em offsets, not on baseline keywords.
    const dy = style.baseline === 'middle' ? '0.35em' : style.baseline === 'hanging' ? '0.8em' : undefined;
    this.element(
      'text',
      {
        x,
        y,
        dy,
        'font-size': size,
        'text-anchor': style.anchor && style.anchor !== 'start' ? style.anchor : undefined,
        'font-weight': style.weight === 'bold' ? 'bold' : undefined,
        fill: style.fill ?? '#222',
        transform: style.rotate ? `rotate(${num(style.rotate)} ${num(x)} ${num(y)})` : undefined,
        ...style.extra,
      },
      escapeXml(content),
    );
  }

  toString(): string {
    const { title, description } = this.options;
    const head =
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
      `width="${num(this.width)}" height="${num(this.height)}" viewBox="0 0 ${num(this.width)} ${num(this.height)}" ` +
      `font-family="${escapeXml(FONT_FAMILY)}">`;
    const meta =
      (title !== undefined ? `<title>${escapeXml(title)}</title>` : '') +
      (description !== undefined ? `<desc>${escapeXml(description)}</desc>` : '');
    const defs = this.defsParts.length > 0 ? `<defs>${this.defsParts.join('')}</defs>` : '';
    const background = `<rect x="0" y="0" width="${num(this.width)}" height="${num(this.height)}" fill="#ffffff"/>`;
    return `${head}\n${meta}${defs}${background}\n${this.parts.join('\n')}\n</svg>\n`;
  }
}
