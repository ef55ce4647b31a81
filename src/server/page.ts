/**
 * The chat page at `/`: one HTML document with its script inline (no outside files). It talks to the server's own
 * /v1/chat/completions with stream: true, lets the user pick the KV compression of each request, and shows under
 * each reply how many KV slots every layer kept after compression (bars: kept of the prompt's full slots).
 */
import type { CompressionSpec } from './request.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function chatPage(modelId: string, defaults: CompressionSpec | null): string {
  const init = JSON.stringify({ model: modelId, method: defaults?.method ?? 'none', budget: typeof defaults?.budget === 'number' ? defaults.budget : 0.35 }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvmerger · ${escapeHtml(modelId)}</title>
<style>
  :root { --fg: #1d232a; --muted: #6b7580; --line: #dde2e7; --user: #e8f0fe; --bot: #f6f7f9; --kept: #2f7d4a; --full: #e3e7eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
  header { display: flex; align-items: baseline; gap: 12px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .model { color: var(--muted); font-size: 13px; }
  main { max-width: 860px; margin: 0 auto; padding: 16px 20px 180px; }
  .msg { margin: 10px 0; padding: 10px 14px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
  .msg.user { background: var(--user); margin-left: 15%; }
  .msg.assistant { background: var(--bot); margin-right: 15%; }
  .msg.error { background: #fdecea; color: #8a1c12; }
  .kv { margin-top: 8px; padding-top: 8px; border-top: 1px dashed var(--line); font-size: 12px; color: var(--muted); white-space: normal; }
  .kv .summary { margin-bottom: 4px; }
  .layer { display: grid; grid-template-columns: 64px 1fr 92px; align-items: center; gap: 8px; height: 16px; }
  .bar { position: relative; height: 10px; background: var(--full); border-radius: 3px; overflow: hidden; }
  .bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--kept); }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  form { position: fixed; left: 0; right: 0; bottom: 0; background: #fff; border-top: 1px solid var(--line); padding: 10px 20px; }
  .row { max-width: 860px; margin: 0 auto; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .row + .row { margin-top: 8px; }
  textarea { flex: 1; min-width: 200px; height: 52px; resize: vertical; font: inherit; padding: 8px; border: 1px solid var(--line); border-radius: 8px; }
  button { font: inherit; padding: 8px 16px; border-radius: 8px; border: 1px solid #2b5fb4; background: #2f6bd0; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #2b5fb4; }
  button:disabled { opacity: .5; cursor: default; }
  label { font-size: 13px; color: var(--muted); display: flex; gap: 4px; align-items: center; }
  select, input { font: inherit; font-size: 13px; padding: 3px 5px; border: 1px solid var(--line); border-radius: 6px; }
  input[type=number] { width: 72px; }
</style>
</head>
<body>
<header><h1>kvmerger chat</h1><span class="model" id="model"></span></header>
<main id="log" aria-live="polite"></main>
<form id="form" novalidate>
  <div class="row">
    <textarea id="input" placeholder="Type a message (Enter sends, Shift+Enter: new line)"></textarea>
    <button type="submit" id="send">Send</button>
    <button type="button" id="stop" class="secondary" disabled>Stop</button>
    <button type="button" id="reset" class="secondary">Reset</button>
  </div>
  <div class="row">
    <label>KV compression <select id="method"><option value="none">none</option></select></label>
    <label>budget <input id="budget" type="number" min="0.01" max="1" step="any"></label>
    <label>max tokens <input id="maxTokens" type="number" min="1" value="128"></label>
    <label>temperature <input id="temperature" type="number" min="0" step="any" value="0.8"></label>
  </div>
</form>
<script>
(() => {
  const init = ${init};
  const $ = (id) => document.getElementById(id);
  const log = $('log'), input = $('input'), send = $('send'), stop = $('stop'), method = $('method'), budget = $('budget');
  $('model').textContent = init.model;
  budget.value = init.budget;
  let history = [];
  let current = null;

  fetch('/v1/models').then((r) => r.json()).then((j) => {
    const names = (j.data[0] && j.data[0].meta && j.data[0].meta.kv_compression.methods) || ['none'];
    method.innerHTML = '';
    for (const n of names) { const o = document.createElement('option'); o.value = n; o.textContent = n; method.appendChild(o); }
    method.value = init.method;
  }).catch(() => {});

  function add(role, text) {
    const d = document.createElement('div');
    d.className = 'msg ' + role;
    const t = document.createElement('div');
    t.className = 'text';
    t.textContent = text;
    d.appendChild(t);
    log.appendChild(d);
    d.scrollIntoView({ block: 'end' });
    return d;
  }

  function kib(b) { return b >= 1048576 ? (b / 1048576).toFixed(2) + ' MiB' : (b / 1024).toFixed(1) + ' KiB'; }

  /** Per layer: a bar of the slots kept out of the prompt's full slots. */
  function showKv(box, kv, usage) {
    const panel = document.createElement('div');
    panel.className = 'kv';
    const s = document.createElement('div');
    s.className = 'summary';
    const share = kv.slots_full ? (100 * kv.slots_kept / kv.slots_full).toFixed(1) : '100';
    s.textContent = 'KV cache ' + (kv.method === 'none' ? '(no compression)' : kv.method + ' ' + kv.budget) + ': kept ' + kv.slots_kept + ' of ' + kv.slots_full +
      ' prompt slots (' + share + '%), ' + kib(kv.bytes_kept) + ' of ' + kib(kv.bytes_full) + (usage ? ' · ' + usage.prompt_tokens + ' prompt + ' + usage.completion_tokens + ' generated tokens' : '');
    panel.appendChild(s);
    kv.layers.forEach((l, i) => {
      const row = document.createElement('div');
      row.className = 'layer';
      row.dataset.layer = String(i);
      const name = document.createElement('span');
      name.textContent = 'layer ' + i;
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = (l.slots_full ? 100 * l.slots_kept / l.slots_full : 100) + '%';
      bar.appendChild(fill);
      const num = document.createElement('span');
      num.className = 'num';
      num.textContent = l.slots_kept + ' / ' + l.slots_full;
      row.append(name, bar, num);
      panel.appendChild(row);
    });
    box.appendChild(panel);
  }

  async function ask(text) {
    history.push({ role: 'user', content: text });
    add('user', text);
    const box = add('assistant', '');
    const out = box.querySelector('.text');
    const body = {
      model: init.model, messages: history, stream: true, stream_options: { include_usage: true },
      max_tokens: Number($('maxTokens').value) || 128, temperature: Number($('temperature').value),
    };
    body.kv_compression = method.value === 'none' ? null : method.value === 'full' ? { method: 'full' } : { method: method.value, budget: Number(budget.value) };
    current = new AbortController();
    send.disabled = true; stop.disabled = false;
    let reply = '', kv = null, usage = null;
    try {
      const res = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: current.signal });
      if (!res.ok) {
        const e = await res.json().catch(() => ({ error: { message: res.statusText } }));
        throw new Error(e.error.message);
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let at;
        while ((at = buf.indexOf('\\n\\n')) >= 0) {
          const ev = buf.slice(0, at); buf = buf.slice(at + 2);
          if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
          const j = JSON.parse(ev.slice(6));
          if (j.error) throw new Error(j.error.message);
          const c = j.choices && j.choices[0];
          if (c && c.delta && c.delta.content) { reply += c.delta.content; out.textContent = reply; }
          if (j.kv_cache) kv = j.kv_cache;
          if (j.usage) usage = j.usage;
        }
      }
      history.push({ role: 'assistant', content: reply });
      if (kv) showKv(box, kv, usage);
      box.dataset.done = 'true';
    } catch (err) {
      if (err.name === 'AbortError') { out.textContent = reply + ' [stopped]'; history.push({ role: 'assistant', content: reply }); }
      else { box.className = 'msg error'; out.textContent = 'Error: ' + err.message; history.pop(); }
      box.dataset.done = 'true';
    } finally {
      current = null; send.disabled = false; stop.disabled = true;
      box.scrollIntoView({ block: 'end' });
    }
  }

  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || current) return;
    input.value = '';
    ask(text);
  });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('form').requestSubmit(); } });
  stop.addEventListener('click', () => { if (current) current.abort(); });
  $('reset').addEventListener('click', () => { if (current) current.abort(); history = []; log.innerHTML = ''; });
})();
</script>
</body>
</html>
`;
}
