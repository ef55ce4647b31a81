/** Writing an analysis to its folder: each chart as SVG (and PNG on request) and one JSON file. */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rasterizeSvg } from '../plot/rasterize-svg.js';
import { findFontFiles } from '../plot/find-font-files.js';
import { makeOutDir } from '../eval/grid/out-dir.js';

export interface AnalysisChart {
  /** File name without extension, e.g. `similarity-keys-l0-h0`. */
  name: string;
  title: string;
  svg: string;
}

export interface AnalysisResult<J> {
  /** What goes into `<kind>.json` (and to stdout with --json). */
  json: J;
  charts: AnalysisChart[];
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** JSON with non-finite numbers as null (JSON has no NaN) and 6 significant digits, so files stay readable. */
export function analysisJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'number') return Number.isFinite(v) ? (Number.isInteger(v) ? v : Number(v.toPrecision(6))) : null;
      if (v instanceof Float32Array || v instanceof Float64Array) return Array.from(v);
      return v;
    },
    2,
  );
}

/** Check that PNGs can be made before any work is done (fonts, resvg). */
export async function checkPngSupport(): Promise<void> {
  if (findFontFiles().files.length === 0) await rasterizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
}

/** Write `<dir>/<kind>.json` and every chart; returns the paths written. */
export async function writeAnalysis<J>(dir: string, kind: string, result: AnalysisResult<J>, options: { png?: boolean; pngScale?: number } = {}): Promise<string[]> {
  makeOutDir(dir);
  const written: string[] = [];
  const jsonPath = join(dir, `${kind}.json`);
  writeAtomic(jsonPath, analysisJson(result.json) + '\n');
  written.push(jsonPath);
  for (const c of result.charts) {
    const svgPath = join(dir, `${c.name}.svg`);
    writeAtomic(svgPath, c.svg);
    written.push(svgPath);
    if (options.png) {
      const pngPath = join(dir, `${c.name}.png`);
      writeAtomic(pngPath, await rasterizeSvg(c.svg, options.pngScale !== undefined ? { scale: options.pngScale } : {}));
      written.push(pngPath);
    }
  }
  return written;
}
