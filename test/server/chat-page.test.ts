// The chat page at `/` in headless Chromium (Debian's chromium, driven by puppeteer-core with that executable; no
// browser download): a message sent with kvmerger at 35% streams a reply, and under it every layer shows the KV slots
// it kept. The screenshot of a layer's bar is checked pixel by pixel: its green share is the kept share. Skips with a
// message where chromium is not installed (apt-get install chromium).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng } from '../helpers/decode-png.js';
import { closeModel, testServer, type TestServer } from './server-helpers.js';

const CHROMIUM = [process.env.KVMERGER_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const skip = CHROMIUM ? false : 'chromium is not installed (apt-get install chromium); the browser test of the chat page is skipped';

let server: TestServer | undefined;
before(async () => {
  if (!skip) server = await testServer({ defaults: { maxTokens: 24, sampling: { temperature: 0, topK: 40, topP: 0.95, minP: 0, repeatPenalty: 1 }, compression: null } });
});
after(async () => {
  await server?.close();
  await closeModel();
});

test('the chat page: a streamed reply, per-layer KV slots kept after compression, and its screenshot', { skip, timeout: 120_000 }, async () => {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server!.url}/`, { waitUntil: 'networkidle0' });
    assert.equal(await page.title(), 'kvmerger · kvmerger-default');
    // the methods come from /v1/models
    await page.waitForFunction("document.querySelectorAll('#method option').length > 2");
    await page.select('#method', 'kvmerger');
    await page.evaluate("document.getElementById('budget').value = '0.35'; document.getElementById('temperature').value = '0'");
    await page.type('#input', 'Once upon a time there was a king who lived in a castle by the sea. Tell me more about him.');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.msg.assistant[data-done="true"]', { timeout: 60_000 });
    const reply = await page.$eval('.msg.assistant .text', (el) => el.textContent ?? '');
    assert.ok(reply.length > 0, 'a reply');
    const layers = await page.$$eval('.msg.assistant .kv .layer', (rows) => rows.map((r) => r.querySelector('.num')!.textContent!.split(' / ').map(Number)));
    assert.equal(layers.length, 6);
    for (const [kept, full] of layers) {
      assert.ok(full! > 20 && kept! > 0 && kept! < full!, `${kept}/${full}`);
      assert.ok(Math.abs(kept! / full! - 0.35) < 0.05, `${kept}/${full}`);
    }
    const summary = await page.$eval('.msg.assistant .kv .summary', (el) => el.textContent ?? '');
    assert.match(summary, /KV cache kvmerger 0\.35: kept \d+ of \d+ prompt slots/);
    assert.deepEqual(errors, []);

    // the screenshot: the whole page (kept for a person to look at), and the first layer's bar checked by its pixels
    const shot = Buffer.from(await page.screenshot({ type: 'png', fullPage: true }));
    const dir = process.env.KVMERGER_SCREENSHOT_DIR ?? join(tmpdir(), 'kvmerger-screens');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'chat-page.png'), shot);
    const full = decodePng(shot);
    assert.equal(full.width, 1000);
    const bar = await page.$('.msg.assistant .kv .layer .bar');
    const clip = Buffer.from(await bar!.screenshot({ type: 'png' }));
    const img = decodePng(clip);
    // the middle row of the bar: kept (green #2f7d4a) then full (grey #e3e7eb)
    const y = Math.floor(img.height / 2);
    let green = 0;
    let grey = 0;
    for (let x = 0; x < img.width; x++) {
      const [r, g, b] = img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3);
      if (Math.abs(r! - 0x2f) < 20 && Math.abs(g! - 0x7d) < 20 && Math.abs(b! - 0x4a) < 20) green++;
      else if (Math.abs(r! - 0xe3) < 12 && Math.abs(g! - 0xe7) < 12 && Math.abs(b! - 0xeb) < 12) grey++;
    }
    const [kept0, full0] = layers[0]!;
    assert.ok(green + grey > img.width * 0.9, `${green} green + ${grey} grey of ${img.width}`);
    assert.ok(Math.abs(green / img.width - kept0! / full0!) < 0.05, `green ${green}/${img.width} vs kept ${kept0}/${full0}`);
  } finally {
    await browser.close();
  }
});
