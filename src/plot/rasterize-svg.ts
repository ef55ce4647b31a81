/**
 * SVG → PNG with @resvg/resvg-js (Rust's resvg, prebuilt for each platform, no network and no system libraries),
 * loaded only when PNGs are asked for. Fonts come from findFontFiles(); with none, text would vanish silently, so
 * that is an error with the fix in its message.
 */
import { KvError } from '../util/errors.js';
import { findFontFiles, type FontFiles } from './find-font-files.js';

export interface RasterizeOptions {
  /** Pixels per SVG unit; default 2 (sharp on high-density screens and in documents). */
  scale?: number;
  fonts?: FontFiles;
}

interface ResvgModule {
  Resvg: new (
    svg: string,
    opts: { fitTo?: { mode: 'zoom'; value: number }; font?: { loadSystemFonts?: boolean; fontFiles?: string[]; defaultFontFamily?: string }; background?: string },
  ) => { render(): { asPng(): Buffer } };
}

let resvg: Promise<ResvgModule> | undefined;

async function loadResvg(): Promise<ResvgModule> {
  resvg ??= import('@resvg/resvg-js').then(
    (m) => m as unknown as ResvgModule,
    (err: unknown) => {
      resvg = undefined;
      throw new KvError(
        `PNG output needs the package @resvg/resvg-js, which did not load (${(err as Error).message}); ` +
          'run `npm install` in the kvmerger folder, or leave out --png to get SVG charts only',
      );
    },
  );
  return resvg;
}

export async function rasterizeSvg(svg: string, options: RasterizeOptions = {}): Promise<Uint8Array> {
  const fonts = options.fonts ?? findFontFiles();
  if (fonts.files.length === 0) {
    throw new KvError(
      'PNG output: no font file found (looked in /usr/share/fonts and the other usual folders), so chart text would be ' +
        'missing; install one (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set KVMERGER_FONT=/path/to/font.ttf',
    );
  }
  const { Resvg } = await loadResvg();
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    font: { loadSystemFonts: false, fontFiles: fonts.files, defaultFontFamily: fonts.defaultFamily },
    background: '#ffffff',
  });
  return r.render().asPng();
}
