/**
 * Font files for the PNG rasteriser (resvg draws no text without one). Looks, in order, at the KVMERGER_FONT
 * environment variable (a file, or several separated by the path delimiter), then at DejaVu Sans where Debian,
 * Ubuntu, Fedora, Arch and macOS/Homebrew put it, then at any .ttf/.otf under the usual font folders.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const DEJAVU_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu', // Debian, Ubuntu (fonts-dejavu-core)
  '/usr/share/fonts/dejavu', // Fedora, Arch
  '/usr/share/fonts/TTF',
  '/usr/local/share/fonts',
  '/opt/homebrew/share/fonts',
  '/Library/Fonts',
];

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', '/Library/Fonts', '/System/Library/Fonts', 'C:\\Windows\\Fonts'];

function listFonts(dir: string, depth: number, out: string[]): void {
  if (depth < 0 || out.length >= 8) return;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (/\.(ttf|otf)$/i.test(name)) out.push(p);
    else {
      try {
        if (statSync(p).isDirectory()) listFonts(p, depth - 1, out);
      } catch {
        /* unreadable entry: skip */
      }
    }
  }
}

export interface FontFiles {
  files: string[];
  /** The family name resvg should use for text whose family it cannot find. */
  defaultFamily: string;
}

export function findFontFiles(env: Record<string, string | undefined> = process.env): FontFiles {
  const fromEnv = (env.KVMERGER_FONT ?? '').split(delimiter).filter((p) => p.length > 0 && existsSync(p));
  if (fromEnv.length > 0) return { files: fromEnv, defaultFamily: 'DejaVu Sans' };
  for (const dir of DEJAVU_CANDIDATES) {
    const regular = join(dir, 'DejaVuSans.ttf');
    if (existsSync(regular)) {
      const bold = join(dir, 'DejaVuSans-Bold.ttf');
      return { files: existsSync(bold) ? [regular, bold] : [regular], defaultFamily: 'DejaVu Sans' };
    }
  }
  const any: string[] = [];
  for (const dir of FONT_DIRS) listFonts(dir, 3, any);
  return { files: any, defaultFamily: 'DejaVu Sans' };
}
