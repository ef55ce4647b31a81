// The report's index.html as a person sees it, in headless Chromium (Debian's chromium through puppeteer-core; the
// test skips with a message where chromium is absent): nothing runs off the page, wide tables scroll inside their
// box, charts fill the width, no heading repeats, a zero bar and overlapping lines are visible in the screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from '../../src/report/report.js';
import { methodColor } from '../../src/plot/method-colors.js';
import { decodePng } from '../helpers/decode-png.js';
import { syntheticRows, toJsonl } from '../helpers/synthetic-results.js';

const CHROMIUM = [process.env.KVMERGER_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const skip = CHROMIUM ? false : 'chromium is not installed (apt-get install chromium); the browser test of the report is skipped';

/** Pixels of `png` within 40 (per channel) of the colour `hex`. */
function pixelsOf(png: Uint8Array, hex: string): number {
  const { rgba } = decodePng(png);
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) if (want.every((c, k) => Math.abs(rgba[i + k]! - c) <= 40)) n++;
  return n;
}

interface Layout {
  overflow: number;
  height: number;
  headings: string[];
  wrapsOutside: number;
  scrolling: number;
  narrow: number;
  smallest: number;
  figures: number;
}

// Runs in the page (a string: the tests compile without the DOM library).
const LAYOUT = `(() => {
        const doc = document.documentElement;
        const content = document.body.clientWidth;
        return {
          overflow: doc.scrollWidth - doc.clientWidth,
          height: doc.scrollHeight,
          headings: [...document.querySelectorAll('h1, h2, h3')].map((h) => h.textContent || ''),
          wrapsOutside: [...document.querySelectorAll('.table-wrap')].filter((e) => e.getBoundingClientRect().right > doc.clientWidth + 0.5).length,
          scrolling: [...document.querySelectorAll('.table-wrap')].filter((e) => e.scrollWidth > e.clientWidth).length,
          // Sections of two charts or more: a row of charts spans the page's width (no empty half beside them).
          narrow: [...document.querySelectorAll('.charts:not(.single)')].filter((g) => {
            const boxes = [...g.querySelectorAll(':scope > figure')].map((f) => f.getBoundingClientRect());
            return Math.max(...boxes.map((b) => b.right)) - Math.min(...boxes.map((b) => b.left)) < 0.95 * content - 48;
          }).length,
          smallest: Math.min(...[...document.querySelectorAll('figure')].map((f) => f.getBoundingClientRect().width)),
          figures: document.querySelectorAll('figure').length,
        };
})()`;

test('the report page fits a 1280-px window, and zeros and overlapping series show', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-report-browser-'));
  const wideDir = mkdtempSync(join(tmpdir(), 'kvmerger-report-wide-'));
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    writeFileSync(join(dir, 'results.jsonl'), toJsonl(syntheticRows()));
    await writeReport(dir);
    // A run with 14 tasks: its per-budget table has 20 columns, wider than the window.
    const rows = syntheticRows();
    const many = rows.filter((r) => r.task === 'fidelity').flatMap((r) => Array.from({ length: 12 }, (_, k) => ({ ...r, task: `longbench-task-${k}` })));
    writeFileSync(join(wideDir, 'results.jsonl'), toJsonl([...rows, ...many]));
    await writeReport(wideDir);

    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    for (const d of [dir, wideDir]) {
      await page.goto(`file://${join(d, 'index.html')}`, { waitUntil: 'load' });
      const layout = (await page.evaluate(LAYOUT)) as Layout;
      assert.equal(layout.overflow, 0, `${d}: the page scrolls sideways by ${layout.overflow} px`);
      assert.equal(layout.wrapsOutside, 0, `${d}: a table box runs off the page`);
      assert.equal(layout.narrow, 0, `${d}: ${layout.narrow} chart sections leave part of the width empty`);
      assert.ok(layout.smallest >= 360, `${d}: a chart is only ${layout.smallest} px wide`);
      assert.equal(new Set(layout.headings).size, layout.headings.length, `${d}: a heading repeats: ${layout.headings.join(' | ')}`);
      if (d === wideDir) assert.ok(layout.scrolling >= 1, 'the 20-column table scrolls inside its box');
      else assert.ok(layout.height < 9000, `the page is ${layout.height} px long (28 charts)`);
    }

    await page.goto(`file://${join(dir, 'index.html')}`, { waitUntil: 'load' });
    // cam scores 0 on the needle task at 35%: its bar is a visible stub with a "0" above it, not a gap.
    const zero = await page.$('#scores-tiny-score-b35 rect.bar[data-series="cam"]');
    assert.ok(zero, 'the zero bar is in the chart');
    const box = (await zero.boundingBox())!;
    const stub = await page.screenshot({ clip: { x: box.x - 2, y: box.y - 4, width: box.width + 4, height: box.height + 8 } });
    assert.ok(pixelsOf(stub, methodColor('cam')) >= box.width, 'the zero bar shows in cam\'s colour');
    assert.equal(await page.$eval('#scores-tiny-score-b35 .zero-label', (e) => e.textContent), '0');
    // Every method keeps the same share of slots per layer: the lines lie on each other, yet each colour shows.
    const chart = await page.$('#layer-kept-tiny-needle-b50 svg');
    const shot = await chart!.screenshot();
    for (const m of ['h2o', 'cam', 'kvmerger']) assert.ok(pixelsOf(shot, methodColor(m)) > 100, `${m} is visible in the overlapping lines`);
    const legend = await page.$$eval('#layer-kept-tiny-needle-b50 .legend text', (ts) => ts.map((t) => t.textContent));
    assert.ok(legend.some((t) => /\(on h2o\)/.test(t ?? '')), `the legend names the overlap: ${legend.join(', ')}`);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(wideDir, { recursive: true, force: true });
  }
});
