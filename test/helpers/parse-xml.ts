/**
 * A strict little XML parser for tests: it throws on anything that is not well-formed (unclosed or mismatched tags,
 * unquoted or duplicate attributes, bare '&' or '<'), and returns an element tree to count cells and series in.
 * Enough for the SVG and HTML-free XML the project writes; no DTDs, no namespaces resolution.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function decode(s: string, at: number): string {
  return s.replace(/&([^;&<]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`bare '&' near offset ${at}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    if (/^#[0-9]+$/.test(body)) return String.fromCodePoint(Number(body.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(body)) return String.fromCodePoint(parseInt(body.slice(2), 16));
    throw new Error(`unknown entity &${body}; near offset ${at}`);
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const skipMisc = (): void => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i);
        if (e < 0) throw new Error('unterminated processing instruction');
        i = e + 2;
      } else if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new Error('unterminated comment');
        i = e + 3;
      } else return;
    }
  };
  const parseElement = (): XmlElement => {
    if (src[i] !== '<') throw new Error(`expected '<' at ${i}`);
    i++;
    const m = NAME.exec(src.slice(i, i + 200));
    if (!m) throw new Error(`bad tag name at ${i}`);
    const name = m[0];
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i, i + 100))![0].length;
      i += ws;
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (ws === 0) throw new Error(`expected whitespace before attribute in <${name}> at ${i}`);
      const am = NAME.exec(src.slice(i, i + 200));
      if (!am) throw new Error(`bad attribute in <${name}> at ${i}`);
      i += am[0].length;
      if (src[i] !== '=') throw new Error(`attribute ${am[0]} without value at ${i}`);
      i++;
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${am[0]} at ${i}`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new Error('unterminated attribute value');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) throw new Error(`'<' in attribute ${am[0]}`);
      if (am[0] in attrs) throw new Error(`duplicate attribute ${am[0]} in <${name}>`);
      attrs[am[0]] = decode(raw, i);
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (i >= src.length) throw new Error(`unclosed <${name}>`);
      if (src.startsWith('</', i)) {
        const end = src.indexOf('>', i);
        const closing = src.slice(i + 2, end).trim();
        if (closing !== name) throw new Error(`</${closing}> closes <${name}> at ${i}`);
        i = end + 1;
        return { name, attrs, children, text };
      }
      if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new Error('unterminated comment');
        i = e + 3;
      } else if (src.startsWith('<![CDATA[', i)) {
        const e = src.indexOf(']]>', i);
        text += src.slice(i + 9, e);
        i = e + 3;
      } else if (src[i] === '<') {
        children.push(parseElement());
      } else {
        const next = src.indexOf('<', i);
        const end = next < 0 ? src.length : next;
        text += decode(src.slice(i, end), i);
        i = end;
      }
    }
  };
  skipMisc();
  const root = parseElement();
  skipMisc();
  if (i !== src.length) throw new Error(`content after the root element at ${i}`);
  return root;
}

/** Every element in the tree (depth first), the root included. */
export function allElements(root: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    out.push(e);
    e.children.forEach(walk);
  };
  walk(root);
  return out;
}

/** Elements whose class list contains `cls`. */
export function byClass(root: XmlElement, cls: string): XmlElement[] {
  return allElements(root).filter((e) => (e.attrs.class ?? '').split(/\s+/).includes(cls));
}
